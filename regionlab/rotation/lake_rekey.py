"""What a key rotation rewrites in the lake, and the statements of its one transaction.

Person keys live in three kinds of lake table:

* products: every published column the spec classifies ``pseudonym`` (the
  ``person_key`` a source product's ``pseudonymisation: person_key`` makes,
  and the person keys derived products carry on); a table the spec does not
  know is judged by a ``person_key`` column, as erasure does;
* labelled products: ``row_key`` joins the source product's key columns, and
  where one of those is a person key (a task over ``population/persons``)
  that part is a person key too;
* the suppression list: ``sha256(prefix || person_key)`` per erased person.

Each is rewritten with ``CREATE OR REPLACE TABLE … AS SELECT`` (new files and
fresh column statistics, as erasure does) through the mapping of
:mod:`regionlab.rotation.mapping`, together with the lake's key id
(:mod:`regionlab.platform.lake_key`), in ONE DuckLake transaction.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import duckdb

from regionlab.erasure.labels import source_of
from regionlab.erasure.lake_delete import table_columns
from regionlab.erasure.resolve import key_digest_sql
from regionlab.platform.names import LABELS_SCHEMA
from regionlab.platform.tables import SCHEMA as PLATFORM_SCHEMA
from regionlab.platform.tables import SUPPRESSION_LIST
from regionlab.rotation.mapping import MAP
from regionlab.spec import Registry
from regionlab.spec.vocab import Classification
from regionlab.sql import quote_ident

PERSON_KEY = "person_key"


@dataclass(frozen=True)
class TableRekey:
    """One lake table with person keys: in which columns (or ``row_key`` parts)."""

    schema: str
    table: str
    columns: tuple[str, ...]
    all_columns: tuple[str, ...]
    #: Labelled products: positions (1-based) of person keys among the ``|``-joined
    #: parts of ``row_key``, and how many parts there are.
    row_key_parts: tuple[int, ...] = ()
    row_key_width: int = 0

    @property
    def ref(self) -> str:
        return f"{self.schema}/{self.table}"

    @property
    def qualified(self) -> str:
        return f"lake.{quote_ident(self.schema)}.{quote_ident(self.table)}"

    def key_exprs(self) -> list[tuple[str, str]]:
        """(SQL of a person key in a row of alias ``t``, a name for it)."""
        if self.row_key_parts:
            return [(f"split_part(t.row_key, '|', {i})", f"part{i}") for i in self.row_key_parts]
        return [(f"t.{quote_ident(c)}", c) for c in self.columns]


@dataclass
class Plan:
    """The tables to re-key and what the mapping does not cover (counts only)."""

    tables: list[TableRekey] = field(default_factory=list)
    #: Distinct person keys in the lake that the mapping does not cover.
    unmapped_persons: int = 0
    #: Rows of those persons, per table.
    unmapped_rows: dict[str, int] = field(default_factory=dict)
    #: Suppression list entries whose person the mapping does not cover.
    unmapped_suppressed: int = 0
    suppressed: int = 0


def pseudonym_columns(registry: Registry, ref: str, cols: dict[str, str]) -> list[str]:
    product = registry.products.get(ref)
    names = {PERSON_KEY} if PERSON_KEY in cols else set()
    if product is not None:
        names |= {
            c.name
            for c in product.published_columns
            if c.classification is Classification.pseudonym and c.name in cols
        }
    return [c for c in cols if c in names]


def plan(con: duckdb.DuckDBPyConnection, registry: Registry) -> Plan:
    """Find every table with person keys and count what the mapping leaves out."""
    out = Plan()
    columns = table_columns(con)
    for ref, cols in columns.items():
        schema, table = ref.split("/")
        if schema == PLATFORM_SCHEMA:
            continue
        if schema == LABELS_SCHEMA:
            found = source_of(table, registry) if "row_key" in cols else None
            if found is None:
                continue
            product, keys = found
            person = set(pseudonym_columns(registry, product.ref, {k: "" for k in keys}))
            parts = tuple(i for i, k in enumerate(keys, start=1) if k in person)
            if parts:
                out.tables.append(
                    TableRekey(schema, table, ("row_key",), tuple(cols), parts, len(keys))
                )
            continue
        person_cols = pseudonym_columns(registry, ref, cols)
        if person_cols:
            out.tables.append(TableRekey(schema, table, tuple(person_cols), tuple(cols)))
    union = " UNION ".join(
        f"SELECT {expr} AS k FROM {t.qualified} AS t"
        for t in out.tables
        for expr, _ in t.key_exprs()
    )
    if union:
        out.unmapped_persons = int(
            con.execute(
                f"SELECT count(DISTINCT k) FROM ({union}) WHERE k IS NOT NULL AND k <> '' "
                f"AND k NOT IN (SELECT old FROM temp.main.{MAP})"
            ).fetchone()[0]
        )
    for t in out.tables:
        n = int(
            con.execute(
                f"SELECT count(*) FROM {t.qualified} AS t WHERE NOT ({_mapped_predicate(t)})"
            ).fetchone()[0]
        )
        if n:
            out.unmapped_rows[t.ref] = n
    if SUPPRESSION_LIST.exists(con):
        total, unmapped = con.execute(
            f"SELECT count(*), count(*) FILTER (WHERE key_digest NOT IN "
            f"(SELECT {key_digest_sql('old')} FROM temp.main.{MAP})) "
            f"FROM {SUPPRESSION_LIST.qualified}"
        ).fetchone()
        out.suppressed, out.unmapped_suppressed = int(total), int(unmapped)
    return out


def _mapped_predicate(t: TableRekey) -> str:
    """TRUE for a row every person key of which is NULL or in the mapping."""
    return " AND ".join(
        f"({expr} IS NULL OR {expr} = '' OR {expr} IN (SELECT old FROM temp.main.{MAP}))"
        for expr, _ in t.key_exprs()
    )


def rewrite_sql(t: TableRekey, *, drop_unmapped: bool) -> str:
    """``CREATE OR REPLACE TABLE`` re-keying ``t`` through the mapping, columns in order.

    Without ``drop_unmapped`` every key is mapped (the caller refused otherwise);
    with it, rows of unmapped persons are left out.
    """
    joins = []
    mapped: dict[str, str] = {}
    for i, (expr, name) in enumerate(t.key_exprs()):
        alias = f"m{i}"
        joins.append(f"LEFT JOIN temp.main.{MAP} AS {alias} ON {alias}.old = {expr}")
        mapped[name] = f"coalesce({alias}.new, {expr})"
    if t.row_key_parts:
        parts = [
            mapped.get(f"part{i}", f"split_part(t.row_key, '|', {i})")
            for i in range(1, t.row_key_width + 1)
        ]
        new_row_key = parts[0] if len(parts) == 1 else f"concat_ws('|', {', '.join(parts)})"
        select = [
            f"{new_row_key} AS row_key" if c == "row_key" else f"t.{quote_ident(c)}"
            for c in t.all_columns
        ]
    else:
        select = [
            f"{mapped[c]} AS {quote_ident(c)}" if c in mapped else f"t.{quote_ident(c)}"
            for c in t.all_columns
        ]
    where = f" WHERE {_mapped_predicate(t)}" if drop_unmapped else ""
    return (
        f"CREATE OR REPLACE TABLE {t.qualified} AS SELECT {', '.join(select)} "
        f"FROM {t.qualified} AS t {' '.join(joins)}{where}"
    )


def suppression_sql(new_key_id: str) -> tuple[str, list[object]]:
    """Re-key the suppression list's digests and record the new key id on every entry."""
    q = SUPPRESSION_LIST.qualified
    return (
        f"CREATE OR REPLACE TABLE {q} AS SELECT coalesce(d.nd, s.key_digest) AS key_digest, "
        f"CAST(? AS VARCHAR) AS key_id, s.request_id, s.added_at FROM {q} AS s LEFT JOIN "
        f"(SELECT {key_digest_sql('old')} AS od, {key_digest_sql('new')} AS nd "
        f"FROM temp.main.{MAP}) AS d ON d.od = s.key_digest",
        [new_key_id],
    )
