"""Privacy primitives: CPR rules, the pseudonymisation key, person keys,
generalisation, free-text scrubbing and k-anonymity.

Every bulk operation runs vectorised in DuckDB or polars; the Python functions
of the same meaning are the reference the tests compare against. Nothing in
this package puts a CPR number, name, phone number or key into a message.
"""

from regionlab.privacy.cpr import (
    CprParts,
    cpr_birth_date,
    cpr_sex,
    install_cpr_macros,
    is_valid_cpr,
    normalise_cpr,
    parse_cpr,
    passes_modulus11,
)
from regionlab.privacy.kanon import KAnonymityResult, k_anonymity
from regionlab.privacy.keys import PseudonymKey, derive_key, init_key, load_key
from regionlab.privacy.pseudonym import (
    KeyingStats,
    add_person_key,
    person_key,
    pseudonymise_keys,
)
from regionlab.privacy.scrub import find_identifier_shapes, scrub_column, scrub_text

__all__ = [
    "CprParts",
    "KAnonymityResult",
    "KeyingStats",
    "PseudonymKey",
    "add_person_key",
    "cpr_birth_date",
    "cpr_sex",
    "derive_key",
    "find_identifier_shapes",
    "init_key",
    "install_cpr_macros",
    "is_valid_cpr",
    "k_anonymity",
    "load_key",
    "normalise_cpr",
    "parse_cpr",
    "passes_modulus11",
    "person_key",
    "pseudonymise_keys",
    "scrub_column",
    "scrub_text",
]
