"""The identifiers of the person a text is about: names in any case, initials, street, postcode.

A note about Lene Bruun of Fynsvej 82, 5000 Odense C may call her ``lene``,
``Lenes``, ``L.B.`` or ``LENE B.``, and mention ``fynsvej`` or ``5000 Odense``.
Register-wide rules cannot remove those without wiping ordinary Danish words
(``bo``, ``per``, ``skov``) and doses (``Fragmin 5000 IE``) from every note, but
for the person the note is about they are identifying, whatever the case.

The rules differ per person, which neither polars nor DuckDB can run
vectorised, so the bulk path is a cheap vectorised prefilter — does the
lower-cased text contain any of the person's words at all
(:func:`candidates`) — followed by one small cached Python ``regex`` per
person on the few rows that pass (:func:`scrub_identity`).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import polars as pl
import regex

from regionlab.privacy.identifiers import ADDRESS, HOUSE_NUMBER
from regionlab.privacy.names import MIN_NAME_LENGTH, NAME_TOKEN, POSSESSIVE, WORD, escape

ADDRESS_TOKEN = ADDRESS.token
POSTCODE_TOKEN = "[POSTNR]"
#: Columns of a person's identity, as in the CPR register extract.
IDENTITY_COLUMNS = ("first_name", "last_name", "address", "postcode")

_MAX_PARTS = 3  # name parts per first/last name that the prefilter looks for
_PART_SPLIT = regex.compile(r"[\s\-]+")
_STREET = regex.compile(r"^(.*?)\s+[0-9]")
_POSTCODE = regex.compile(r"^[0-9]{4}$")
_TOKENS = {
    "address": ADDRESS_TOKEN,
    "initials": NAME_TOKEN,
    "name": NAME_TOKEN,
    "postcode": POSTCODE_TOKEN,
}


@dataclass(frozen=True)
class Identity:
    """What the register says about one person (any field may be missing)."""

    first_name: str | None = None
    last_name: str | None = None
    address: str | None = None
    postcode: str | None = None

    def name_parts(self) -> tuple[str, ...]:
        """First and last name parts (``Anne-Marie`` → ``Anne``, ``Marie``), longest first."""
        parts = {
            p
            for name in (self.first_name, self.last_name)
            if name
            for p in _PART_SPLIT.split(name.strip())
            if len(p) >= MIN_NAME_LENGTH
        }
        return tuple(sorted(parts, key=lambda p: (-len(p), p)))

    def street(self) -> str | None:
        """The street of the address (``Fynsvej 82, 1. th.`` → ``Fynsvej``)."""
        if not self.address or not self.address.strip():
            return None
        found = _STREET.match(self.address.strip())
        street = (found.group(1) if found else self.address).strip(" ,")
        return street if len(street) >= 3 else None

    def initials(self) -> tuple[str, str] | None:
        if not self.first_name or not self.last_name:
            return None
        first, last = self.first_name.strip()[:1], self.last_name.strip()[:1]
        return (first.upper(), last.upper()) if first.isalpha() and last.isalpha() else None

    def valid_postcode(self) -> str | None:
        code = (self.postcode or "").strip()
        return code if _POSTCODE.match(code) else None


def _pattern(identity: Identity) -> regex.Pattern[str] | None:
    alternatives: list[str] = []
    street = identity.street()
    if street:
        alternatives.append(f"(?P<address>(?i:{escape(street)})(?:{HOUSE_NUMBER})?)")
    initials = identity.initials()
    if initials:
        first, last = (escape(i) for i in initials)
        alternatives.append(f"(?P<initials>{first}\\. ?{last}\\.?)")
    parts = identity.name_parts()
    if parts:
        names = "|".join(escape(p) for p in parts)
        before = f"(?:{escape(initials[0])}\\. ?)?" if initials else ""
        after = f"(?: {escape(initials[1])}\\.)?" if initials else ""
        alternatives.append(f"(?P<name>(?i:{before}(?:{names}){POSSESSIVE}{after}))")
    postcode = identity.valid_postcode()
    if postcode:
        # a postcode before a town name, or after "postnr."; never a dose (Fragmin 5000 IE)
        alternatives.append(
            rf"(?P<postcode>(?:(?i:postnr|postnummer)\.?:? ?)?{postcode}"
            rf"(?=,? ?\p{{Lu}}\p{{Ll}})|(?i:postnr|postnummer)\.?:? ?{postcode})"
        )
    if not alternatives:
        return None
    # not after "/" either: "mmol/l. Bruun" holds a unit, not an initial
    return regex.compile(f"(?<![{WORD}/])(?:{'|'.join(alternatives)})(?![{WORD}])")


@lru_cache(maxsize=65_536)
def identity_pattern(identity: Identity) -> regex.Pattern[str] | None:
    """The person's rules as one pattern (cached: a person has many notes)."""
    return _pattern(identity)


def token_for(match: regex.Match[str]) -> str:
    """The token that replaces one match of :func:`identity_pattern`."""
    return _TOKENS[match.lastgroup or "name"]


def scrub_identity(text: str | None, identity: Identity) -> str | None:
    """``text`` with the person's own identifiers replaced by tokens."""
    pattern = identity_pattern(identity)
    if text is None or pattern is None:
        return text
    return pattern.sub(token_for, text)


def identity_spans(text: str, identity: Identity) -> list[tuple[int, int, str]]:
    """Where the person's identifiers are: (start, end, kind)."""
    pattern = identity_pattern(identity)
    if pattern is None:
        return []
    return [(m.start(), m.end(), m.lastgroup or "name") for m in pattern.finditer(text)]


def has_identity(text: str | None, identity: Identity) -> bool:
    pattern = identity_pattern(identity)
    return text is not None and pattern is not None and pattern.search(text) is not None


# --- vectorised prefilter ---------------------------------------------------


_NOT_ALNUM = r"[^\p{L}\p{N}]+"


def _words(expr: pl.Expr) -> pl.Expr:
    """Lower case, every run of other characters one space, with a space in front."""
    return " " + expr.str.to_lowercase().str.replace_all(_NOT_ALNUM, " ")


def _needles() -> list[pl.Expr]:
    """The person's words as they must start a match, one column each (see ``candidates``)."""
    needles: list[pl.Expr] = []
    for column in ("first_name", "last_name"):
        parts = pl.col(column).str.extract_all(r"[^\s\-]{2,}")
        needles += [_words(parts.list.get(i, null_on_oob=True)) for i in range(_MAX_PARTS)]
    street = pl.col("address").str.extract(r"^\s*(.*?)\s+[0-9]", 1)
    needles.append(_words(pl.coalesce(street, pl.col("address")).str.strip_chars(" ,")))
    needles.append(_words(pl.col("postcode").str.strip_chars()))
    first = pl.col("first_name").str.strip_chars().str.slice(0, 1)
    last = pl.col("last_name").str.strip_chars().str.slice(0, 1)
    needles.append(_words(first + "." + last))
    return needles


def candidates(text: pl.Expr) -> pl.Expr:
    """True where the text may hold one of the row's person's identifiers (never a false no).

    Needs the :data:`IDENTITY_COLUMNS` in the frame. Every match of
    :func:`identity_pattern` starts where no letter or digit stands before it,
    with a name part, the street, the postcode, the initials or ``postnr``
    before the postcode; so in the text reduced to lower-case words with single
    spaces between them, it starts with `` <needle>``. A name of more than
    three parts always passes (only the first three are looked for), and so
    does any text with ``postnr``.
    """
    words = _words(text)
    hit = words.str.contains(" postn", literal=True).fill_null(False)
    for column in ("first_name", "last_name"):
        parts = pl.col(column).str.extract_all(r"[^\s\-]{2,}").list.len()
        hit = hit | (parts > _MAX_PARTS).fill_null(False)
    for needle in _needles():
        hit = hit | words.str.contains(needle, literal=True).fill_null(False)
    return hit


def frame_identities(frame: pl.DataFrame) -> list[Identity]:
    """One :class:`Identity` per row of a frame with the identity columns."""
    columns = [frame[c].to_list() for c in IDENTITY_COLUMNS]
    return [Identity(*values) for values in zip(*columns, strict=True)]
