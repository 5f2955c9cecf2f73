"""Scrub free text of identifiers: the rules of the register and of the person it is about.

Clinical notes are written by hurried people: a CPR number with any
separator, a phone number in any grouping, an e-mail address, an address,
register names in any case, with a possessive or an initial. Before a note
leaves the source stage every such identifier is replaced by a token
(``[CPR]``, ``[TELEFON]``, ``[EMAIL]``, ``[ADRESSE]``, ``[NAVN]``, ``[POSTNR]``).
The shapes come from :mod:`regionlab.privacy.identifiers`, the register-name
rules from :mod:`regionlab.privacy.names`, the rules of the one person a note
is about from :mod:`regionlab.privacy.person_rules`.

Register-wide rules run vectorised over a whole column, in polars (Rust
``regex``: ``scrub_expr``, ``scrub_column``) for bulk work and in DuckDB
(RE2: ``scrub_sql``) inside queries; ``scrub_text`` runs the same patterns
with Python's ``regex`` and is the reference. The per-person rules run after
them on the rows a vectorised prefilter lets through. The audit's identifier
gate (``find_identifier_shapes``) counts with the same rules, so anything the
scrubber would remove the gate finds, in any column.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache

import duckdb
import polars as pl

from regionlab.privacy import person_rules
from regionlab.privacy.identifiers import ADDRESS, CPR, EMAIL, PHONE, PHONE_PREFIX, TEXT_SHAPES
from regionlab.privacy.names import (
    NAME_TOKEN,
    PROTECT,
    KnownNames,
    NameSource,
    escape,
    known_names,
    name_list,
    name_rules,
    register_names,
)
from regionlab.privacy.person_rules import IDENTITY_COLUMNS, POSTCODE_TOKEN, Identity
from regionlab.privacy.textrules import Rule
from regionlab.sql import quote_ident, quote_literal, quote_table

CPR_TOKEN = CPR.token
PHONE_TOKEN = PHONE.token
EMAIL_TOKEN = EMAIL.token
ADDRESS_TOKEN = ADDRESS.token
TOKENS = (CPR_TOKEN, PHONE_TOKEN, EMAIL_TOKEN, ADDRESS_TOKEN, NAME_TOKEN, POSTCODE_TOKEN)
#: What the identifier gate counts per column.
COUNT_KINDS = ("cpr", "phone", "email", "address", "name", "person")

__all__ = [
    "ADDRESS_TOKEN",
    "CPR_TOKEN",
    "EMAIL_TOKEN",
    "NAME_TOKEN",
    "PHONE_TOKEN",
    "POSTCODE_TOKEN",
    "IdentityTable",
    "find_identifier_shapes",
    "identifier_tests_sql",
    "name_list",
    "register_names",
    "rules",
    "scrub_column",
    "scrub_expr",
    "scrub_frame",
    "scrub_series",
    "scrub_spans",
    "scrub_sql",
    "scrub_text",
]


#: A country code left in front of a replaced number: a number that followed another one
#: with a single character between them loses its prefix to the first pass (see textrules).
_DANGLING_PREFIX = Rule(
    kind="phone",
    token=PHONE.token,
    core=PHONE_PREFIX + escape(PHONE.token),
    near=PHONE.near,
    near_after="",
    replacement=(PHONE.token,),
    gate=False,
)


_SHAPE_RULES = tuple(
    rule
    for shape in TEXT_SHAPES
    for rule in ((Rule.of(shape), _DANGLING_PREFIX) if shape is PHONE else (Rule.of(shape),))
)


def rules(names: NameSource = ()) -> list[Rule]:
    """Every register-wide rule, in the order it applies."""
    return list(_rules(known_names(names)))


@lru_cache(maxsize=8)
def _rules(names: KnownNames) -> tuple[Rule, ...]:
    """Cached per register, so each rule's compiled Python pattern is reused."""
    return _SHAPE_RULES + tuple(name_rules(names))


def _counted(rule: Rule) -> bool:
    """Rules whose matches are identifiers (the street marker only protects)."""
    return rule.kind != "street"


# --- the engines -------------------------------------------------------------


def scrub_sql(column_sql: str, names: NameSource = ()) -> str:
    """DuckDB expression scrubbing a VARCHAR expression with the register-wide rules.

    The expression contains the register names, so never log it.
    """
    expr = f"replace({column_sql}, {quote_literal(PROTECT)}, '')"
    for rule in rules(names):
        pattern, replacement = quote_literal(rule.replace_pattern()), rule.re2_replacement()
        for _ in range(2):
            expr = f"regexp_replace({expr}, {pattern}, {quote_literal(replacement)}, 'g')"
    return f"replace({expr}, {quote_literal(PROTECT)}, '')"


def scrub_expr(expr: pl.Expr, names: NameSource = ()) -> pl.Expr:
    """Polars expression scrubbing a string expression; same rules as ``scrub_sql``.

    Polars' regex engine replaces with capture groups several times faster than
    DuckDB's ``regexp_replace``, so bulk scrubbing goes through here.
    """
    out = expr.str.replace_all(PROTECT, "", literal=True)
    for rule in rules(names):
        pattern, replacement = rule.replace_pattern(), rule.rust_replacement()
        out = out.str.replace_all(pattern, replacement).str.replace_all(pattern, replacement)
    return out.str.replace_all(PROTECT, "", literal=True)


def _scrub_people(frame: pl.DataFrame, column: str) -> pl.Series:
    """The per-person rules, on the rows whose text may hold their person's identifiers."""
    text = frame[column]
    hit = frame.select(person_rules.candidates(pl.col(column)).alias("hit"))["hit"]
    rows = hit.arg_true().to_list()
    if not rows:
        return text
    sub = frame[rows]
    people = person_rules.frame_identities(sub)
    values = [
        person_rules.scrub_identity(t, p)
        for t, p in zip(sub[column].to_list(), people, strict=True)
    ]
    return text.scatter(rows, pl.Series(values, dtype=pl.Utf8))


def scrub_frame(
    frame: pl.DataFrame, column: str, names: NameSource = (), *, people: bool = False
) -> pl.Series:
    """Scrub ``frame[column]``; with ``people`` the frame carries the identity columns too."""
    scrubbed = frame.with_columns(scrub_expr(pl.col(column), names).alias(column))
    return _scrub_people(scrubbed, column) if people else scrubbed[column]


def scrub_series(
    series: pl.Series, names: NameSource = (), identities: Sequence[Identity] | None = None
) -> pl.Series:
    """Scrub a polars string Series (nulls stay null); ``identities`` align with its rows."""
    frame = pl.DataFrame({"text": series.cast(pl.Utf8)})
    if identities is not None:
        frame = frame.with_columns(
            pl.Series(c, [getattr(i, c) for i in identities], dtype=pl.Utf8)
            for c in IDENTITY_COLUMNS
        )
    out = scrub_frame(frame, "text", names, people=identities is not None)
    return out.alias(series.name)


# --- the Python reference, with positions --------------------------------------


@dataclass
class _Tracked:
    """Text being scrubbed, with the original position of each character (None: inserted)."""

    text: str
    origin: list[int | None]
    spans: list[tuple[int, int, str]] = field(default_factory=list)

    def record(self, start: int, end: int, kind: str) -> None:
        known = [o for o in self.origin[start:end] if o is not None]
        if known:
            self.spans.append((min(known), max(known) + 1, kind))

    def apply(self, rule: Rule) -> None:
        for _ in range(2):
            self._apply_once(rule)

    def _apply_once(self, rule: Rule) -> None:
        text, origin = self.text, self.origin
        out: list[str] = []
        where: list[int | None] = []
        pos = 0
        last = rule.core_groups + 2
        for match in rule.python_pattern.finditer(text):
            start, end = match.span()
            out.append(text[pos:start])
            where += origin[pos:start]
            if _counted(rule):
                self.record(match.end(1), match.start(last), rule.kind)
            groups = (1, *(p + 1 if isinstance(p, int) else p for p in rule.replacement), last)
            for part in groups:
                if isinstance(part, str):
                    out.append(part)
                    where += [None] * len(part)
                    continue
                s, e = match.span(part)
                if s >= 0:
                    out.append(text[s:e])
                    where += origin[s:e]
            pos = end
        out.append(text[pos:])
        where += origin[pos:]
        self.text, self.origin = "".join(out), where

    def drop(self, char: str) -> None:
        kept = [(c, o) for c, o in zip(self.text, self.origin, strict=True) if c != char]
        self.text = "".join(c for c, _ in kept)
        self.origin = [o for _, o in kept]

    def apply_identity(self, identity: Identity) -> None:
        pattern = person_rules.identity_pattern(identity)
        if pattern is None:
            return
        text, origin = self.text, self.origin
        out: list[str] = []
        where: list[int | None] = []
        pos = 0
        for match in pattern.finditer(text):
            start, end = match.span()
            self.record(start, end, "person")
            out.append(text[pos:start])
            where += origin[pos:start]
            token = person_rules.token_for(match)
            out.append(token)
            where += [None] * len(token)
            pos = end
        out.append(text[pos:])
        where += origin[pos:]
        self.text, self.origin = "".join(out), where


def scrub_spans(
    text: str, names: NameSource = (), identity: Identity | None = None
) -> tuple[str, list[tuple[int, int, str]]]:
    """The scrubbed text and where, in ``text``, each replaced identifier was (start, end, kind)."""
    tracked = _Tracked(text, list(range(len(text))))
    tracked.drop(PROTECT)
    for rule in rules(names):
        tracked.apply(rule)
    tracked.drop(PROTECT)
    if identity is not None:
        tracked.apply_identity(identity)
    return tracked.text, sorted(tracked.spans)


def scrub_text(
    text: str | None, names: NameSource = (), identity: Identity | None = None
) -> str | None:
    """Python reference of the scrubber for one text (the engines give the same text)."""
    if text is None:
        return None
    return scrub_spans(text, names, identity)[0]


# --- scrubbing a table ---------------------------------------------------------


@dataclass(frozen=True)
class IdentityTable:
    """A table of person identities (:data:`IDENTITY_COLUMNS`) joined on ``key``.

    The scrubbed table has a column of the same name (e.g. ``person_key``).
    """

    table: str
    key: str = "person_key"

    def select(self, alias: str) -> str:
        return ", ".join(f"{alias}.{quote_ident(c)} AS {quote_ident(c)}" for c in IDENTITY_COLUMNS)

    def join(self, source_alias: str, alias: str) -> str:
        key, table = quote_ident(self.key), quote_table(self.table)
        return f"LEFT JOIN {table} AS {alias} ON {alias}.{key} = {source_alias}.{key}"


def _require_columns(con: duckdb.DuckDBPyConnection, table: str, columns: Sequence[str]) -> None:
    present = {row[0] for row in con.execute(f"DESCRIBE {quote_table(table)}").fetchall()}
    missing = [c for c in columns if c not in present]
    if missing:
        raise ValueError(f"table {table} has no column(s) {', '.join(map(repr, missing))}")


def _batches(
    con: duckdb.DuckDBPyConnection,
    table: str,
    columns: Sequence[str],
    identities: IdentityTable | None,
    batch_rows: int,
):  # type: ignore[no-untyped-def]
    """Frames of ``rid`` + ``columns`` (+ identity columns), ``batch_rows`` rowids at a time."""
    t = quote_table(table)
    bounds = con.execute(f"SELECT min(rowid), max(rowid) FROM {t}").fetchone()
    if bounds is None or bounds[0] is None:
        return
    selected = ", ".join(
        f"CAST(s.{quote_ident(c)} AS VARCHAR) AS {quote_ident(c)}" for c in columns
    )
    extra, join = "", ""
    if identities is not None:
        extra, join = ", " + identities.select("i"), identities.join("s", "i")
    low, high = int(bounds[0]), int(bounds[1])
    for start in range(low, high + 1, batch_rows):
        frame = con.execute(
            f"SELECT s.rowid AS rid, {selected}{extra} FROM {t} AS s {join} "
            "WHERE s.rowid >= ? AND s.rowid < ?",
            [start, start + batch_rows],
        ).pl()
        if frame.height:
            yield frame


def scrub_column(
    con: duckdb.DuckDBPyConnection,
    table: str,
    column: str,
    names: NameSource = (),
    out_column: str | None = None,
    batch_rows: int = 250_000,
    identities: IdentityTable | None = None,
) -> None:
    """Scrub ``column`` of ``table`` in place, or into a new VARCHAR ``out_column``.

    The text goes to polars in batches of ``batch_rows`` (by ``rowid``, so
    memory stays bounded for millions of notes), is scrubbed there and written
    back with one UPDATE per batch. With ``identities`` each row's own person
    (joined on the identity table's key) is scrubbed too.
    """
    _require_columns(con, table, [column] + ([identities.key] if identities else []))
    t, target = quote_table(table), quote_ident(column)
    if out_column is not None:
        target = quote_ident(out_column)
        con.execute(f"ALTER TABLE {t} ADD COLUMN {target} VARCHAR")
    names = known_names(names)
    for frame in _batches(con, table, [column], identities, batch_rows):
        frame = frame.filter(pl.col(column).is_not_null())
        if not frame.height:
            continue
        scrubbed = scrub_frame(frame, column, names, people=identities is not None)
        batch = pl.DataFrame({"rid": frame["rid"], "text": scrubbed}).to_arrow()
        name = "__rl_scrubbed_batch"
        con.register(name, batch)
        try:
            con.execute(
                f"UPDATE {t} AS __rl_t SET {target} = b.text FROM {name} AS b "
                "WHERE __rl_t.rowid = b.rid"
            )
        finally:
            con.unregister(name)


# --- the identifier gate ---------------------------------------------------------


def _kind_patterns(names: NameSource) -> dict[str, list[str]]:
    by_kind: dict[str, list[str]] = {}
    for rule in rules(names):
        if _counted(rule) and rule.gate:
            by_kind.setdefault(rule.kind, []).append(rule.search_pattern())
    return by_kind


def _street_protected(expr: str, names: NameSource) -> str:
    """SQL: the text with streets spelt with names marked, as the scrubber sees it."""
    street = next((r for r in rules(names) if r.kind == "street"), None)
    if street is None:
        return expr
    return (
        f"regexp_replace({expr}, {quote_literal(street.replace_pattern())}, "
        f"{quote_literal(street.re2_replacement())}, 'g')"
    )


#: Column names of :func:`long_text_sql`'s rows: the source row, the column's index, the text.
ROW_ID, TEXT_COLUMN, TEXT_VALUE = "__rl_rid", "__rl_col", "__rl_text"


def long_text_sql(table: str, columns: Sequence[str], *, row_ids: bool = False) -> str:
    """SQL: one row per (row, column) of ``table`` with the column's text, NULLs left out.

    Why: the identifier tests hold the register's names (a pattern of thousands of
    characters) and DuckDB compiles a constant pattern once per place it appears in a
    statement — that compilation, not the matching, is what a test costs on a small
    table. Testing one long text column compiles each kind's patterns once, not once per
    column, with the same result per column (the tests see one column's text at a time).
    ``row_ids`` adds the table's ``rowid`` (tables only, not views) as ``ROW_ID``.
    """
    rid = f"rowid AS {ROW_ID}, " if row_ids else ""
    return " UNION ALL ".join(
        f"SELECT {rid}{i} AS {TEXT_COLUMN}, "
        f"CAST({quote_ident(column)} AS VARCHAR) AS {TEXT_VALUE} FROM {quote_table(table)} "
        f"WHERE {quote_ident(column)} IS NOT NULL"
        for i, column in enumerate(columns)
    )


def identifier_tests_sql(expr: str, names: NameSource = ()) -> dict[str, str]:
    """DuckDB boolean per register-wide kind: does ``expr`` hold an identifier of that kind?

    The expressions contain the register names, so never log them.
    """
    names = known_names(names)
    patterns = _kind_patterns(names)
    value = f"replace(CAST({expr} AS VARCHAR), {quote_literal(PROTECT)}, '')"
    tests = {}
    for kind in COUNT_KINDS[:-1]:
        source = _street_protected(value, names) if kind == "name" else value
        found = [f"regexp_matches({source}, {quote_literal(p)})" for p in patterns.get(kind, [])]
        tests[kind] = " OR ".join(found) if found else "false"
    return tests


def find_identifier_shapes(
    con: duckdb.DuckDBPyConnection,
    table: str,
    columns: Sequence[str],
    names: NameSource = (),
    identities: IdentityTable | None = None,
    person_columns: Sequence[str] = (),
) -> dict[str, dict[str, int]]:
    """Per column, how many rows hold each kind of identifier the scrubber removes.

    Kinds: ``cpr``, ``phone``, ``email``, ``address``, ``name`` (register-wide
    rules, counted in DuckDB) and ``person`` (the rules of the row's own person,
    for ``person_columns``, which need ``identities``). Counts only — never
    the values — so the result can go into audit logs and the catalogue. Point
    it at text-like columns: a 64-hex person key often contains an 8-digit run
    and would count as a phone shape.
    """
    if not columns:
        return {}
    _require_columns(con, table, columns)
    names = known_names(names)
    kinds = COUNT_KINDS[:-1]
    tests = identifier_tests_sql(TEXT_VALUE, names)
    selects = ", ".join(f"count(*) FILTER (WHERE {tests[kind]})" for kind in kinds)
    try:
        rows = con.execute(
            f"SELECT {TEXT_COLUMN}, {selects} FROM ({long_text_sql(table, columns)}) GROUP BY 1"
        ).fetchall()
    except duckdb.Error as exc:
        # DuckDB may quote the statement, which holds register names.
        raise RuntimeError(f"identifier scan of {table} failed ({type(exc).__name__})") from None
    found = {int(r[0]): r[1:] for r in rows}
    counts = {
        column: {kind: int(found.get(i, (0,) * len(kinds))[k]) for k, kind in enumerate(kinds)}
        | {"person": 0}
        for i, column in enumerate(columns)
    }
    scan = [c for c in person_columns if c in columns]
    if identities is not None and scan:
        for column, n in _person_hits(con, table, scan, identities).items():
            counts[column]["person"] = n
    return counts


def _person_hits(
    con: duckdb.DuckDBPyConnection,
    table: str,
    columns: Sequence[str],
    identities: IdentityTable,
    batch_rows: int = 250_000,
) -> dict[str, int]:
    """Rows whose text still holds an identifier of the row's own person, per column."""
    hits = dict.fromkeys(columns, 0)
    for frame in _batches(con, table, columns, identities, batch_rows):
        for column in columns:
            flagged = frame.filter(person_rules.candidates(pl.col(column)))
            if not flagged.height:
                continue
            people = person_rules.frame_identities(flagged)
            texts = flagged[column].to_list()
            hits[column] += sum(
                person_rules.has_identity(t, p) for t, p in zip(texts, people, strict=True)
            )
    return hits
