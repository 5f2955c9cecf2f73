"""From CPR numbers to what the platform stores: person keys and their digests.

Products hold ``person_key = HMAC(key, normalised CPR)``, so the same key
that pseudonymised the data resolves an erasure request. The CPR numbers are
not needed after this step: everything downstream (including the search for
CPR numbers in quarantined raw text) works on keys, by hashing CPR-shaped
text with the same key and comparing the results.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

from regionlab.privacy.keys import PseudonymKey
from regionlab.privacy.pseudonym import person_key

#: Domain separation for the suppression list's digests (see :mod:`.suppression_list`).
DIGEST_PREFIX = "regionlab/suppression/v1:"


def person_keys(cprs: Iterable[str], key: PseudonymKey) -> list[str]:
    """The person key of each CPR number, sorted, de-duplicated."""
    return sorted({person_key(cpr, key) for cpr in cprs})


def key_digest(pkey: str) -> str:
    """SHA-256 of a person key (domain-separated): what the suppression list stores."""
    return hashlib.sha256((DIGEST_PREFIX + pkey).encode("utf-8")).hexdigest()


def key_digest_sql(expr: str) -> str:
    """The same digest in DuckDB (``sha256`` of the UTF-8 text, lowercase hex)."""
    return f"sha256('{DIGEST_PREFIX}' || {expr})"


def key_set_digest(keys: Iterable[str]) -> str:
    """One fingerprint of a set of persons: lets a receipt be matched to the suppression
    list entries of its request without storing any key."""
    joined = "\n".join(sorted(key_digest(k) for k in keys))
    return hashlib.sha256(joined.encode("utf-8")).hexdigest()
