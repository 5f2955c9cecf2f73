"""The one place that knows what a CPR number, a phone number, an e-mail or an address looks like.

Every other module (ingest validation, pseudonymisation, the note scrubber and
the audit's identifier gate, erasure requests and matching, the catalogue's
value screen, the research audit log and output check, the leak scans of the
tests) imports its patterns and CPR rules from here, so they cannot disagree.

CPR rules (CPR-kontoret):

* written as ``DDMMYY-SSSS`` with any separator clinicians and systems use —
  hyphen, en/em dash, slash, dot, space, none, with spaces around it
  (``080788 – 2228``) — and the date part may itself be dotted, dashed or
  slashed (``08.07.88-2228``); the normal form is the 10 digits;
* the century comes from the 7th digit: 0-3 → 1900s; 4 and 9 → 2000s if
  YY ≤ 36 else 1900s; 5-8 → 2000s if YY ≤ 57 else 1800s;
* a valid calendar date is required for validity; modulus 11 is *not* (numbers
  issued since 2007 may fail it), so it is only exposed for information;
* sex from the last digit: odd → ``M`` (mand), even → ``K`` (kvinde).

Shapes (:class:`Shape`) find identifiers inside text. Each is written once in
the syntax that RE2 (DuckDB), Rust ``regex`` (polars) and Python's ``regex``
module share, and rendered three ways: a search pattern with guard groups
(``(?:^|[^0-9])core(?:[^0-9]|$)``) for "is there one", a replace pattern
whose guards are capture groups, and a look-around pattern for Python. The
text shape of a CPR number is deliberately broad (day 32 or month 13 is a
mistyped CPR number and is scrubbed too); :data:`CPR_STRICT` asks for a
plausible date and is used where false alarms cost more (research outputs,
audit-log fields).

Nothing here ever puts a CPR number into an exception message.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from datetime import date
from functools import cached_property
from typing import Literal

import duckdb
import regex

Sex = Literal["M", "K"]

_WHITESPACE = " \t\r\n"
_MOD11_WEIGHTS = (4, 3, 2, 7, 6, 5, 4, 3, 2, 1)

# --- pattern pieces (RE2 ∩ Rust regex ∩ Python regex syntax) ---------------

#: Separators seen between the date part and the serial number.
DASHES = "-–—"  # hyphen, en dash, em dash
_SERIAL_SEP = rf"(?: *[{DASHES}./] *| +)?"
#: Separators inside the date part (the same one twice: 08.07.88, 08-07-88, 08/07/88, 08 07 88).
_DATE_SEPS = (r"\.", "-", "/", " ")


def _cpr_core(day: str, month: str) -> str:
    undivided = f"{day}{month}[0-9]{{2}}"
    divided = "|".join(f"{day}{s}{month}{s}[0-9]{{2}}" for s in _DATE_SEPS)
    return f"(?:{undivided}|{divided}){_SERIAL_SEP}[0-9]{{4}}"


#: Broad: any day but 00 (zero-padded ids such as ``S0000012345`` are not CPR numbers).
_CPR_BROAD = _cpr_core("(?:0[1-9]|[1-9][0-9])", "[0-9]{2}")
_CPR_PLAUSIBLE = _cpr_core("(?:0[1-9]|[12][0-9]|3[01])", "(?:0[1-9]|1[0-2])")

#: +45, + 45, 0045, (+45), (45), then maybe a space, dot or hyphen.
PHONE_PREFIX = r"(?:(?:\+ ?|00)45|\(\+?45\))[ .-]?"
#: Danish subscriber numbers start with 2-9; after a country code any digit is taken as one.
_PHONE_NUMBER = (
    "[0-9](?:"
    "[0-9]{6}"  # 92352188
    # 92 35 21 88, 92-35-21-88, 92.35.21.88 (one separator throughout: "25 05.01.24" is a date)
    "| [0-9]{2} [0-9]{2} [0-9]{2}|-[0-9]{2}-[0-9]{2}-[0-9]{2}|\\.[0-9]{2}\\.[0-9]{2}\\.[0-9]{2}"
    "|[0-9]{2}[ -][0-9]{4}"  # 9235 2188, 9235-2188
    "|[0-9]{2} [0-9]{2} [0-9]{2}"  # 9235 21 88
    "| [0-9]{2} [0-9]{4}"  # 92 35 2188
    ")"
)

_EMAIL = r"[\p{L}\p{N}._%+-]+@[\p{L}\p{N}-]+(?:\.[\p{L}\p{N}-]+)*\.\p{L}{2,}"

#: Endings of one-word Danish street names (Fynsvej, Vestergade, Rosenvænget, Vesterbro).
STREET_SUFFIXES = (
    "vej", "vejen", "gade", "gaden", "vænget", "vænge", "allé", "alle", "stræde", "strædet",
    "plads", "pladsen", "torv", "torvet", "boulevard", "boulevarden", "bakken", "toften",
    "vangen", "engen", "marken", "lunden", "højen", "parken", "stien", "bro", "kajen",
)  # fmt: skip
#: Street names that are one of those words on their own (Torvet 3).
STREET_WORDS = ("Torvet", "Torv", "Vænget", "Parken", "Bakken", "Toften", "Kajen")
#: Street types written as a word of their own after a name (Bruuns Gade, H.C. Andersens Boulevard).
STREET_TYPES = ("Gade", "Vej", "Allé", "Alle", "Plads", "Torv", "Boulevard", "Stræde", "Vænge")

#: A street: maybe a capitalised word before it (Ribe Landevej), then a word with a street
#: ending, a street word, or a name in the genitive and a street type (Bruuns Gade).
_STREET = (
    r"(?:\p{Lu}\p{L}+ )?(?:\p{Lu}[\p{L}.-]*(?:" + "|".join(STREET_SUFFIXES) + ")"
    "|" + "|".join(STREET_WORDS) + r"|\p{Lu}[\p{L}.-]* (?:" + "|".join(STREET_TYPES) + "))"
)
#: House number, letter, floor and side (82, 82A, 82, 1. th., 12 st. tv), then maybe a postcode.
HOUSE_NUMBER = (
    r" [1-9][0-9]{0,2}[A-Za-z]?"
    r"(?:,? (?:st|kl|[0-9]{1,2})\.? ?(?:th|tv|mf)\.?)?"
    r"(?:, [1-9][0-9]{3})?"
)


@dataclass(frozen=True)
class Shape:
    """One kind of identifier in text: what it looks like and what may not touch it.

    ``near`` is the body of a character class (``0-9``) of characters that may
    not stand directly before the identifier; ``near_after`` the same after it.
    """

    kind: str
    token: str
    core: str
    near: str
    near_after: str

    def search_pattern(self) -> str:
        """RE2/Rust pattern that finds one anywhere (guards may consume: only "is there one")."""
        return f"(?:^|[^{self.near}])(?:{self.core})(?:[^{self.near_after}]|$)"

    def lookaround(self) -> str:
        """The same shape for Python's ``regex`` module, with real look-around."""
        return f"(?<![{self.near}])(?:{self.core})(?![{self.near_after}])"

    @cached_property
    def compiled(self) -> regex.Pattern[str]:
        return regex.compile(self.lookaround())

    def spans(self, text: str) -> list[tuple[int, int]]:
        return [m.span() for m in self.compiled.finditer(text)]

    def contains(self, text: str) -> bool:
        return self.compiled.search(text) is not None

    def full_match(self, text: str) -> bool:
        return regex.fullmatch(self.core, text) is not None

    def with_near(self, near: str, near_after: str | None = None) -> Shape:
        """The same core with other neighbours (e.g. not after a decimal point)."""
        return replace(self, near=near, near_after=near if near_after is None else near_after)


CPR = Shape("cpr", "[CPR]", _CPR_BROAD, "0-9", "0-9")
#: A plausible date in front, and not inside a longer token or after a decimal point or comma.
CPR_STRICT = Shape("cpr", "[CPR]", _CPR_PLAUSIBLE, "0-9A-Za-z.,", "0-9A-Za-z")
PHONE = Shape("phone", "[TELEFON]", f"(?:{PHONE_PREFIX}[0-9]|[2-9]){_PHONE_NUMBER}", "0-9+", "0-9-")
EMAIL = Shape("email", "[EMAIL]", _EMAIL, r"\p{L}\p{N}._%+-", r"\p{L}\p{N}_@-")
ADDRESS = Shape("address", "[ADRESSE]", _STREET + HOUSE_NUMBER, r"\p{L}\p{N}_", r"\p{L}\p{N}_")
#: A person key (HMAC-SHA256 as 64 hex characters) or any other 64-hex pseudonym.
PERSON_KEY = Shape("person_key", "[PSEUDONYM]", "[0-9a-fA-F]{64}", "0-9a-fA-F", "0-9a-fA-F")

#: The shapes the scrubber removes and the identifier gate looks for, in the order they apply:
#: phones before CPR numbers ("+4523456789" is ten digits after the plus).
TEXT_SHAPES: tuple[Shape, ...] = (EMAIL, PHONE, CPR, ADDRESS)

#: A street named after someone, in the genitive ("Bruuns Gade"; "Gade" is a surname too):
#: groups 1-4 are the two words split after their first letter, so a marker can go inside
#: both (see names.py).
STREET_NAME_CORE = r"(\p{Lu})([\p{L}.]*s) (\p{Lu})(" + "|".join(t[1:] for t in STREET_TYPES) + ")"


# --- CPR numbers as values --------------------------------------------------

_CPR_VALUE = regex.compile(_CPR_BROAD)
_NON_DIGIT = re.compile(r"[^0-9]")


@dataclass(frozen=True)
class CprParts:
    """What a valid CPR number says about its holder.

    ``cpr`` is kept out of the repr so a logged ``CprParts`` leaks nothing.
    """

    cpr: str = field(repr=False)
    birth_date: date
    sex: Sex
    passes_modulus11: bool


def normalise_cpr(value: object) -> str | None:
    """The 10 digits if ``value`` is written like a CPR number (any separator), else ``None``.

    The date is not checked: see :func:`is_valid_cpr`.
    """
    if not isinstance(value, str):
        return None
    text = value.strip(_WHITESPACE)
    if _CPR_VALUE.fullmatch(text) is None:
        return None
    return _NON_DIGIT.sub("", text)


def century(seventh_digit: int, yy: int) -> int:
    """The birth century from the 7th digit and the two-digit year."""
    if seventh_digit <= 3:
        return 1900
    if seventh_digit in (4, 9):
        return 2000 if yy <= 36 else 1900
    return 2000 if yy <= 57 else 1800


def _birth_date(normalised: str) -> date | None:
    day, month, yy = int(normalised[0:2]), int(normalised[2:4]), int(normalised[4:6])
    year = century(int(normalised[6]), yy) + yy
    try:
        return date(year, month, day)
    except ValueError:
        return None


def cpr_birth_date(value: object) -> date | None:
    """Birth date of a valid CPR number, ``None`` if the value is not one."""
    normalised = normalise_cpr(value)
    return None if normalised is None else _birth_date(normalised)


def is_valid_cpr(value: object) -> bool:
    """True when ``value`` is written like a CPR number and encodes a real birth date."""
    return cpr_birth_date(value) is not None


def cpr_sex(value: object) -> Sex | None:
    """``M`` for an odd last digit, ``K`` for even; ``None`` if not a valid CPR."""
    normalised = normalise_cpr(value)
    if normalised is None or _birth_date(normalised) is None:
        return None
    return "M" if int(normalised[9]) % 2 == 1 else "K"


def passes_modulus11(value: object) -> bool:
    """The pre-2007 check digit rule; informative only, never a validity test."""
    normalised = normalise_cpr(value)
    if normalised is None:
        return False
    total = sum(int(d) * w for d, w in zip(normalised, _MOD11_WEIGHTS, strict=True))
    return total % 11 == 0


def parse_cpr(value: object) -> CprParts | None:
    """All parts of a valid CPR number, or ``None`` when it is not valid."""
    normalised = normalise_cpr(value)
    if normalised is None:
        return None
    born = _birth_date(normalised)
    if born is None:
        return None
    return CprParts(
        cpr=normalised,
        birth_date=born,
        sex="M" if int(normalised[9]) % 2 == 1 else "K",
        passes_modulus11=passes_modulus11(normalised),
    )


def cprs_in_text(text: str) -> list[str]:
    """The 10 digits of every CPR-shaped run in ``text`` (for matching, never for display)."""
    return [_NON_DIGIT.sub("", m.group()) for m in CPR.compiled.finditer(text)]


def contains_cpr(text: str) -> bool:
    """True if ``text`` holds something written like a CPR number anywhere."""
    return CPR.contains(text)


# --- DuckDB -----------------------------------------------------------------
#
# TEMP macros: they live in the connection's temp catalogue, so they work on a
# connection whose default database is a staging file or a DuckLake catalogue
# without writing anything into it. ``n`` below is an already normalised CPR.


def _sql_literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


_WS_SQL = "(' ' || chr(9) || chr(13) || chr(10))"
_YY = "CAST(substr(n, 5, 2) AS INTEGER)"
_D7 = "substr(n, 7, 1)"
_TRIMMED = f"trim(CAST(x AS VARCHAR), {_WS_SQL})"


def _once(value: str, name: str, body: str) -> str:
    """``body`` over ``value`` bound to ``name``, with ``value`` evaluated once.

    A DuckDB macro substitutes its argument's expression text wherever the
    parameter occurs and the optimiser does not reuse it, so a validity check
    written over ``cpr_normalise(x)`` ran the regex about ten times per value
    (14 % of a region run). A one-element list and a lambda bind it once.
    """
    return f"list_transform([{value}], {name} -> {body})[1]"


_NORMALISED = (
    f"CASE WHEN regexp_full_match(t, {_sql_literal(_CPR_BROAD)}) "
    "THEN regexp_replace(t, '[^0-9]', '', 'g') END"
)
_SEX = (
    "CASE WHEN cpr_birth_date_normalised(n) IS NOT NULL THEN "
    "CASE WHEN CAST(substr(n, 10, 1) AS INTEGER) % 2 = 1 THEN 'M' ELSE 'K' END END"
)
_MOD11_SUM = " + ".join(
    f"{w} * CAST(substr(n, {i + 1}, 1) AS INTEGER)" for i, w in enumerate(_MOD11_WEIGHTS)
)

_MACROS: tuple[str, ...] = (
    f"CREATE OR REPLACE TEMP MACRO cpr_normalise(x) AS {_once(_TRIMMED, 't', _NORMALISED)}",
    f"""CREATE OR REPLACE TEMP MACRO cpr_birth_date_normalised(n) AS
    try_cast(
        lpad(CAST(
            CASE WHEN {_D7} IN ('0', '1', '2', '3') THEN 1900
                 WHEN {_D7} IN ('4', '9') THEN CASE WHEN {_YY} <= 36 THEN 2000 ELSE 1900 END
                 ELSE CASE WHEN {_YY} <= 57 THEN 2000 ELSE 1800 END
            END + {_YY} AS VARCHAR), 4, '0')
        || '-' || substr(n, 3, 2) || '-' || substr(n, 1, 2) AS DATE)""",
    "CREATE OR REPLACE TEMP MACRO cpr_birth_date(x) AS "
    + _once("cpr_normalise(x)", "n", "cpr_birth_date_normalised(n)"),
    """CREATE OR REPLACE TEMP MACRO cpr_is_valid(x) AS
    cpr_birth_date(x) IS NOT NULL""",
    "CREATE OR REPLACE TEMP MACRO cpr_sex(x) AS " + _once("cpr_normalise(x)", "n", _SEX),
    "CREATE OR REPLACE TEMP MACRO cpr_passes_modulus11(x) AS coalesce(("
    + _once("cpr_normalise(x)", "n", _MOD11_SUM)
    + ") % 11 = 0, false)",
    # Every CPR-shaped run in a text, normalised to 10 digits. Extraction is greedy and
    # unguarded on the right, so a longer digit run yields a candidate too: callers only
    # compare candidates with known numbers (erasure), where an extra candidate costs nothing.
    f"""CREATE OR REPLACE TEMP MACRO cpr_candidates(x) AS
    list_transform(
        regexp_extract_all(CAST(x AS VARCHAR), {_sql_literal(CPR.core)}),
        t -> regexp_replace(t, '[^0-9]', '', 'g'))""",
)

MACRO_NAMES = (
    "cpr_normalise",
    "cpr_birth_date",
    "cpr_is_valid",
    "cpr_sex",
    "cpr_passes_modulus11",
    "cpr_candidates",
)


def install_cpr_macros(con: duckdb.DuckDBPyConnection) -> None:
    """Create the CPR macros on ``con`` (idempotent).

    ``cpr_normalise(x)`` → VARCHAR or NULL, ``cpr_is_valid(x)`` → BOOLEAN
    (never NULL), ``cpr_birth_date(x)`` → DATE or NULL, ``cpr_sex(x)`` →
    ``'M'``/``'K'`` or NULL, ``cpr_passes_modulus11(x)`` → BOOLEAN; each agrees
    with the Python function of the same meaning. ``cpr_candidates(x)`` →
    VARCHAR[] of the normalised CPR-shaped runs in a text.
    """
    for statement in _MACROS:
        con.execute(statement)


def shape_sql(shape: Shape, expr: str) -> str:
    """DuckDB boolean: does the VARCHAR expression ``expr`` hold ``shape`` anywhere?"""
    return f"regexp_matches({expr}, {_sql_literal(shape.search_pattern())})"
