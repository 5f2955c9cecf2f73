"""Names from the person register, as text rules that apply to every note.

Three rules, in this order:

1. a register first name followed by a register last name, in *any* case
   (``lene bruun``, ``LENE BRUUN``, ``Laura Gade``), with a possessive on the
   last name;
2. a street named after someone (``Bruuns Gade``; ``Gade`` is a surname too)
   is marked so the next rule skips it — it is a street, not a person; the
   person's own street is removed by the per-person rules and any street with
   a house number by the address shape;
3. any register name as written in the register or in capitals, with a Danish
   possessive (``Lenes``, ``Bruuns``, ``Jens'``, ``Bruun's``) and an initial
   directly before or after it (``L. Bruun``, ``Lene B.``).

A single name in lower case is *not* removed for everybody: many Danish names
are also words (``bo``, ``per``, ``skov``, ``lykke``). The names of the person
a note is about are removed in any case by :mod:`regionlab.privacy.person_rules`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import duckdb
import polars as pl

from regionlab.privacy.identifiers import STREET_NAME_CORE
from regionlab.privacy.textrules import Rule
from regionlab.sql import quote_ident, quote_table

NAME_TOKEN = "[NAVN]"
#: Shortest register name that is scrubbed: one letter would wipe initials.
MIN_NAME_LENGTH = 2
#: Marks a street spelt with a name while the name rules run (a private-use character).
PROTECT = "\ue000"

WORD = r"\p{L}\p{M}\p{N}_"
POSSESSIVE = "(?:[sS]|['’][sS]?)?"
_INITIAL_BEFORE = r"(?:\p{Lu}\. ?)?"
_INITIAL_AFTER = r"(?: \p{Lu}\.)?"
_REGEX_META = set(r"\.^$|?*+()[]{}")
_TOKEN_WORDS = {"NAVN", "CPR", "TELEFON", "EMAIL", "ADRESSE", "POSTNR"}

FIRST_NAME_COLUMNS = ("first_name", "fornavn")
LAST_NAME_COLUMNS = ("last_name", "efternavn")


def escape(text: str) -> str:
    """Escape regex metacharacters the same way for RE2, Rust and Python."""
    return "".join("\\" + ch if ch in _REGEX_META else ch for ch in text)


def _clean(value: str) -> str:
    """A name without the marker character and without punctuation at either end."""
    text = value.replace(PROTECT, "")
    start, end = 0, len(text)
    while start < end and not (text[start].isalnum()):
        start += 1
    while end > start and not (text[end - 1].isalnum()):
        end -= 1
    return text[start:end]


def _distinct(values: Iterable[object]) -> tuple[str, ...]:
    cleaned = {_clean(v) for v in values if isinstance(v, str)}
    kept = {v for v in cleaned if len(v) >= MIN_NAME_LENGTH and v.upper() not in _TOKEN_WORDS}
    return tuple(sorted(kept, key=lambda v: (-len(v), v)))


@dataclass(frozen=True)
class KnownNames:
    """Register names by role; a plain list of names plays both roles."""

    first: tuple[str, ...] = ()
    last: tuple[str, ...] = ()

    @property
    def all(self) -> tuple[str, ...]:
        """Every name as written and in capitals, longest first (``Anne-Marie`` before ``Anne``)."""
        return _distinct([*self.first, *self.last, *(n.upper() for n in (*self.first, *self.last))])

    def __bool__(self) -> bool:
        return bool(self.first or self.last)

    @classmethod
    def of(cls, first: Iterable[object], last: Iterable[object]) -> KnownNames:
        """Cleaned, distinct names by role (too short ones and token words dropped)."""
        return cls(_distinct(first), _distinct(last))


NameSource = Iterable[str] | pl.DataFrame | KnownNames


def known_names(source: NameSource) -> KnownNames:
    """Names by role from a list, a register frame (first/last name columns) or ``KnownNames``.

    A frame's other string columns count as both first and last names.
    """
    if isinstance(source, KnownNames):
        return source
    if isinstance(source, pl.DataFrame):
        first: list[str] = []
        last: list[str] = []
        for column in source.columns:
            if source.schema[column] != pl.Utf8:
                continue
            values = source[column].drop_nulls().unique().to_list()
            if column in FIRST_NAME_COLUMNS:
                first += values
            elif column in LAST_NAME_COLUMNS:
                last += values
            else:
                first += values
                last += values
        return KnownNames.of(first, last)
    names = _distinct(source)
    return KnownNames(names, names)


def name_list(source: NameSource) -> list[str]:
    """Distinct scrubbable names as written and in capitals, longest first."""
    return list(known_names(source).all)


def register_names(
    con: duckdb.DuckDBPyConnection,
    table: str,
    columns: Sequence[str] = ("first_name", "last_name"),
) -> KnownNames:
    """Distinct names of a person-register table by role, computed in DuckDB."""
    roles: dict[str, list[str]] = {"first": [], "last": []}
    for column in columns:
        rows = con.execute(
            f"SELECT DISTINCT CAST({quote_ident(column)} AS VARCHAR) FROM {quote_table(table)} "
            f"WHERE {quote_ident(column)} IS NOT NULL"
        ).fetchall()
        values = [r[0] for r in rows]
        if column in FIRST_NAME_COLUMNS:
            roles["first"] += values
        elif column in LAST_NAME_COLUMNS:
            roles["last"] += values
        else:
            roles["first"] += values
            roles["last"] += values
    return KnownNames.of(roles["first"], roles["last"])


def _alternation(names: Iterable[str]) -> str:
    return "|".join(escape(n) for n in names)


def _word_rule(kind: str, core: str, replacement: tuple[str | int, ...], groups: int = 0) -> Rule:
    """A rule on whole words: no letter, digit or underscore may touch it."""
    return Rule(kind, NAME_TOKEN, core, WORD, WORD, replacement, groups)


STREET_RULE = _word_rule("street", STREET_NAME_CORE, (1, PROTECT, 2, " ", 3, PROTECT, 4), 4)


def name_rules(source: NameSource) -> list[Rule]:
    """The name rules for these register names (none when there are no names)."""
    names = known_names(source)
    if not names:
        return []
    first, last = _alternation(names.first), _alternation(names.last)
    pair = _word_rule(
        "name",
        f"(?i:{first})(\\s+)(?i:{last}){POSSESSIVE}",
        (NAME_TOKEN, 1, NAME_TOKEN),
        1,
    )
    single = _word_rule(
        "name",
        f"{_INITIAL_BEFORE}(?:{_alternation(names.all)}){POSSESSIVE}{_INITIAL_AFTER}",
        (NAME_TOKEN,),
    )
    return [pair, STREET_RULE, single]
