"""Scrub free text of CPR numbers, phone numbers and register names.

Clinical notes embed the patient's name, CPR number and phone number; they are
replaced by tokens (``[CPR]``, ``[TELEFON]``, ``[NAVN]``) before a note leaves
the source stage. The work is vectorised over a whole column: a few regex
replacements per kind, with all register names in one prebuilt alternation
(compiled to an automaton, so a few hundred names cost little more than one).
The same patterns run in two engines: polars (Rust ``regex``; ``scrub_column``,
``scrub_expr``) for bulk scrubbing because it is several times faster at
replacing, and DuckDB (RE2; ``scrub_sql``, ``find_identifier_shapes``) for use
inside queries and for the audit's counts.

Neither engine has look-around, and "not inside a longer number/word" needs
it. Guard groups (``(^|[^0-9])…([^0-9]|$)``) would consume the character
after a match, so the next identifier, one character later, would lose its
left guard and be missed or matched partly. Instead each kind runs in three
steps: (1) insert a boundary mark (U+E000, a private-use character) at every
place an identifier may start — after a character that may precede one and
before one it may start with; (2) replace ``(^|mark) core (trailing guard)``,
where the core allows the mark at its inner boundaries; (3) remove the marks.
The mark is never consumed by a trailing guard, so one pass finds every
identifier, with exactly the semantics of look-around. ``scrub_text`` is an
independent Python implementation with real look-around, used as the
reference in tests. (Any U+E000 already in the text is removed.)

Word boundaries for names are Unicode-aware (``\\p{L}``), because RE2's ``\\b``
is ASCII-only and would treat æ, ø and å as non-letters. Names match
case-sensitively as written in the register plus an all-capitals variant, so
a name that is also a Danish word (``Bo``, ``Mark``) is not scrubbed from
ordinary lower-case text.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache

import duckdb
import polars as pl

from regionlab.sql import quote_ident, quote_literal, quote_table

CPR_TOKEN = "[CPR]"
PHONE_TOKEN = "[TELEFON]"
NAME_TOKEN = "[NAVN]"

#: Shortest register name that is scrubbed: one letter would wipe initials.
MIN_NAME_LENGTH = 2

_MARK = "\ue000"


# Core shapes; ``m`` is the optional mark the marking step may have put at an
# inner boundary (only syntax that RE2, Rust regex and Python all accept).
def _cpr_core(m: str) -> str:
    """Ten digits (optionally split 6+4) that do not start with day 00.

    Deliberately broad, so mistyped CPR numbers (day 32, month 13) are scrubbed
    too; only day 00 is excluded, which no CPR number has but zero-padded ids
    such as the laboratory's ``S0000012345`` do.
    """
    return rf"(?:0[1-9]|[1-9][0-9])[0-9]{{4}}(?:[- ]{m})?[0-9]{{4}}"


def _phone_core(m: str) -> str:
    """8 digits starting 2-9 (Danish subscriber numbers), unspaced or as 4+4 or
    2+2+2+2, optionally after +45 / 0045 (with or without a space)."""
    return (
        rf"(?:(?:\+|00)45(?: {m})?)?[2-9][0-9]"
        rf"(?:[0-9]{{6}}|[0-9]{{2}} {m}[0-9]{{4}}| {m}[0-9]{{2}} {m}[0-9]{{2}} {m}[0-9]{{2}})"
    )


_OPTIONAL_MARK = _MARK + "?"
_WORD = r"\p{L}\p{M}\p{N}_"
_RE2_GROUP_1 = "\\1"
_RE2_MARK_REPLACEMENT = "\\1" + _MARK + "\\2"


@dataclass(frozen=True)
class _Kind:
    """One kind of identifier: where it may start, its core, what may follow it.

    ``first`` is a cheap prefix every match starts with; marks go only where
    ``before`` is followed by ``first``, which keeps the marking step light
    (e.g. names: only before words starting with a register name's initial).
    """

    token: str
    before: str  # class of characters that may precede an identifier
    first: str  # pattern every identifier starts with
    core: str  # core pattern, optional marks at inner boundaries
    after: str  # class of characters that may follow (the mark excluded)

    def mark_pattern(self) -> str:
        return f"({self.before})({self.first})"

    def match_pattern(self) -> str:
        return f"(?:^|{_MARK})(?:{self.core})({self.after}|$)"

    def detect_pattern(self) -> str:
        """Unmarked text: guards may consume freely, we only ask "is there one"."""
        core = self.core.replace(_OPTIONAL_MARK, "")
        return f"(?:^|{self.before})(?:{core})(?:{self.after}|$)"


_CPR = _Kind(CPR_TOKEN, "[^0-9]", "[0-9]{6}", _cpr_core(_OPTIONAL_MARK), f"[^0-9{_MARK}]")
_PHONE = _Kind(
    PHONE_TOKEN, "[^0-9+]", r"\+|00|[2-9][0-9]", _phone_core(_OPTIONAL_MARK), f"[^0-9{_MARK}]"
)

# Python reference patterns: look-around.
_PY_CPR = re.compile(rf"(?<![0-9]){_cpr_core('')}(?![0-9])")
_PY_PHONE = re.compile(rf"(?<![0-9+]){_phone_core('')}(?![0-9])")

_REGEX_META = set(r"\.^$|?*+()[]{}")
_EDGE_NON_WORD = re.compile(r"^[\W_]+|[\W_]+$")

NameSource = Iterable[str] | pl.DataFrame


def _escape(name: str) -> str:
    """Escape regex metacharacters the same way for RE2, Rust and Python."""
    return "".join("\\" + ch if ch in _REGEX_META else ch for ch in name)


def _escape_class(ch: str) -> str:
    """Escape a character for use inside ``[...]`` in all three engines."""
    return "\\" + ch if ch in "\\]^-[" else ch


def _is_word(ch: str) -> bool:
    return ch.isalnum() or ch == "_"


def _name_core(name: str) -> str:
    """The escaped name with an optional mark wherever a word starts inside it."""
    out = []
    for i, ch in enumerate(name):
        if i > 0 and _is_word(ch) and not _is_word(name[i - 1]):
            out.append(_OPTIONAL_MARK)
        out.append(_escape(ch))
    return "".join(out)


def name_list(names: NameSource) -> list[str]:
    """Distinct scrubbable names, longest first (so ``Anne-Marie`` wins over ``Anne``).

    A DataFrame contributes every string column (e.g. first_name, last_name).
    Each name is also matched in capitals; punctuation at either end is dropped.
    """
    if isinstance(names, pl.DataFrame):
        values: list[str] = []
        for column in names.columns:
            if names.schema[column] == pl.Utf8:
                values.extend(v for v in names[column].drop_nulls().unique().to_list())
    else:
        values = [v for v in names if isinstance(v, str)]
    cleaned = {_EDGE_NON_WORD.sub("", v.replace(_MARK, "")) for v in values}
    cleaned |= {v.upper() for v in cleaned}
    kept = [v for v in cleaned if len(v) >= MIN_NAME_LENGTH]
    return sorted(kept, key=lambda v: (-len(v), v))


def register_names(
    con: duckdb.DuckDBPyConnection,
    table: str,
    columns: Sequence[str] = ("first_name", "last_name"),
) -> list[str]:
    """Distinct names from a person-register table, computed in DuckDB."""
    parts = " UNION ".join(
        f"SELECT DISTINCT CAST({quote_ident(c)} AS VARCHAR) AS name FROM {quote_table(table)}"
        for c in columns
    )
    rows = con.execute(f"SELECT name FROM ({parts}) WHERE name IS NOT NULL").fetchall()
    return name_list(row[0] for row in rows)


def _name_kind(names: list[str]) -> _Kind | None:
    if not names:
        return None
    core = "|".join(_name_core(n) for n in names)
    initials = "".join(sorted({_escape_class(n[0]) for n in names}))
    return _Kind(NAME_TOKEN, f"[^{_WORD}]", f"[{initials}]", core, f"[^{_WORD}{_MARK}]")


def _kinds(names: NameSource) -> list[_Kind]:
    name_kind = _name_kind(name_list(names))
    # Phones first: "+4523456789" is ten digits after the plus, and must not
    # be read as a CPR number. No CPR shape can match the phone patterns.
    return [_PHONE, _CPR] + ([name_kind] if name_kind is not None else [])


def scrub_sql(column_sql: str, names: NameSource = ()) -> str:
    """SQL expression scrubbing a VARCHAR expression (e.g. a quoted column).

    The expression contains the register names, so never log it.
    """
    mark = quote_literal(_MARK)
    expr = f"replace({column_sql}, {mark}, '')"
    for kind in _kinds(names):
        marked = (
            f"regexp_replace({expr}, {quote_literal(kind.mark_pattern())}, "
            f"{quote_literal(_RE2_MARK_REPLACEMENT)}, 'g')"
        )
        replaced = (
            f"regexp_replace({marked}, {quote_literal(kind.match_pattern())}, "
            f"{quote_literal(kind.token + _RE2_GROUP_1)}, 'g')"
        )
        expr = f"replace({replaced}, {mark}, '')"
    return expr


def scrub_expr(expr: pl.Expr, names: NameSource = ()) -> pl.Expr:
    """Polars expression scrubbing a string expression; same patterns as ``scrub_sql``.

    Polars' regex engine replaces with capture groups several times faster than
    DuckDB's ``regexp_replace`` (100k notes of 500 characters: about 2 s vs 8 s
    on two busy cores), so bulk scrubbing goes through here.
    """
    out = expr.str.replace_all(_MARK, "", literal=True)
    for kind in _kinds(names):
        out = (
            out.str.replace_all(kind.mark_pattern(), "${1}" + _MARK + "${2}")
            .str.replace_all(kind.match_pattern(), kind.token.replace("$", "$$") + "${1}")
            .str.replace_all(_MARK, "", literal=True)
        )
    return out


def scrub_series(series: pl.Series, names: NameSource = ()) -> pl.Series:
    """Scrub a polars string Series (nulls stay null)."""
    frame = pl.DataFrame({"text": series.cast(pl.Utf8)})
    return frame.select(scrub_expr(pl.col("text"), names))["text"].alias(series.name)


def _require_columns(con: duckdb.DuckDBPyConnection, table: str, columns: Sequence[str]) -> None:
    present = {row[0] for row in con.execute(f"DESCRIBE {quote_table(table)}").fetchall()}
    missing = [c for c in columns if c not in present]
    if missing:
        raise ValueError(f"table {table} has no column(s) {', '.join(map(repr, missing))}")


def scrub_column(
    con: duckdb.DuckDBPyConnection,
    table: str,
    column: str,
    names: NameSource = (),
    out_column: str | None = None,
    batch_rows: int = 250_000,
) -> None:
    """Scrub ``column`` of ``table`` in place, or into a new VARCHAR ``out_column``.

    The text goes to polars in batches of ``batch_rows`` (by ``rowid``, so
    memory stays bounded for millions of notes), is scrubbed there with
    ``scrub_expr`` and written back with one UPDATE per batch.
    """
    _require_columns(con, table, [column])
    t, src = quote_table(table), quote_ident(column)
    target = src
    if out_column is not None:
        target = quote_ident(out_column)
        con.execute(f"ALTER TABLE {t} ADD COLUMN {target} VARCHAR")
    bounds = con.execute(f"SELECT min(rowid), max(rowid) FROM {t}").fetchone()
    if bounds is None or bounds[0] is None:
        return
    expr = scrub_expr(pl.col("text"), names)
    low, high = int(bounds[0]), int(bounds[1])
    for start in range(low, high + 1, batch_rows):
        batch = con.execute(
            f"SELECT rowid AS rid, CAST({src} AS VARCHAR) AS text FROM {t} "
            f"WHERE rowid >= ? AND rowid < ? AND {src} IS NOT NULL",
            [start, start + batch_rows],
        ).pl()
        if batch.height == 0:
            continue
        scrubbed = batch.select("rid", expr.alias("text")).to_arrow()
        name = "__rl_scrubbed_batch"
        con.register(name, scrubbed)
        try:
            con.execute(
                f"UPDATE {t} AS __rl_t SET {target} = b.text FROM {name} AS b "
                "WHERE __rl_t.rowid = b.rid"
            )
        finally:
            con.unregister(name)


def scrub_text(text: str | None, names: NameSource = ()) -> str | None:
    """Python reference of ``scrub_sql`` for one text (look-around instead of marks)."""
    if text is None:
        return None
    out = text.replace(_MARK, "")
    out = _PY_PHONE.sub(PHONE_TOKEN, out)
    out = _PY_CPR.sub(CPR_TOKEN, out)
    pattern = _py_name_pattern(tuple(name_list(names)))
    return out if pattern is None else pattern.sub(NAME_TOKEN, out)


@lru_cache(maxsize=8)
def _py_name_pattern(names: tuple[str, ...]) -> re.Pattern[str] | None:
    if not names:
        return None
    alternation = "|".join(_escape(n) for n in names)
    return re.compile(rf"(?<!\w)(?:{alternation})(?!\w)")


def find_identifier_shapes(
    con: duckdb.DuckDBPyConnection,
    table: str,
    columns: Sequence[str],
    names: NameSource = (),
) -> dict[str, dict[str, int]]:
    """Per column, how many rows hold a CPR shape, a phone shape or a register name.

    Counts only — never the values — so the result can go into audit logs and
    the catalogue. Point it at text-like columns: a 64-hex person key often
    contains an 8-digit run and would count as a phone shape, and numeric ids
    of 10 digits count as CPR shapes.
    """
    if not columns:
        return {}
    _require_columns(con, table, columns)
    name_kind = _name_kind(name_list(names))
    selects: list[str] = []
    for i, column in enumerate(columns):
        value = f"CAST({quote_ident(column)} AS VARCHAR)"
        for prefix, kind in (("c", _CPR), ("p", _PHONE), ("n", name_kind)):
            if kind is None:
                selects.append(f"0 AS {prefix}{i}")
            else:
                pattern = quote_literal(kind.detect_pattern())
                selects.append(
                    f"count(*) FILTER (WHERE regexp_matches({value}, {pattern})) AS {prefix}{i}"
                )
    try:
        row = con.execute(f"SELECT {', '.join(selects)} FROM {quote_table(table)}").fetchone()
    except duckdb.Error as exc:
        # DuckDB may quote the statement, which holds register names.
        raise RuntimeError(f"identifier scan of {table} failed ({type(exc).__name__})") from None
    assert row is not None
    return {
        column: {"cpr": int(row[3 * i]), "phone": int(row[3 * i + 1]), "name": int(row[3 * i + 2])}
        for i, column in enumerate(columns)
    }
