"""Aggregate facts about published products that the HealthDCAT-AP export declares.

Number of unique individuals, typical ages and temporal coverage are not in
any spec: they are properties of the data. They are read here as aggregates
over the current snapshot (one read-only connection), never as rows, and only
counts and bounds leave this module.

- unique individuals: ``count(DISTINCT person_key)`` where the product has one;
- typical ages: 5th and 95th percentile of the age (from ``age_band`` or
  ``birth_year``) of the product's individuals, taken from the product itself
  or, for products with only a person key, from ``population/persons``;
- temporal coverage: first and last value of the retention column (the date
  each row's retention runs from — the date the steward says a row belongs to);
- municipalities: the municipality codes (public reference codes, checked against
  the region's code list) the data covers — from the product's own municipality
  column, or for person-level products from where their individuals live in
  ``population/persons``; a municipality with fewer than :data:`MIN_PERSONS`
  of the product's individuals is left out, so no small group is pointed at;
- code values: the codes of a coded column (SKS, NPU, ATC) held by at least
  :data:`MIN_PERSONS` of the product's individuals, and only codes of the
  region's code list — which classifications a researcher can count on; a
  column with ``terminologies`` (a FHIR code mixing NPU and LOINC) gives the
  values that are codes of one of them (NPU's code list, LOINC's check digit);
- an aggregate (no person key) is computed over the rows of its person-level
  upstreams: the individuals and typical ages it is computed from are those of
  the upstream with the fewest individuals (the one that bounds its population).
"""

from __future__ import annotations

import datetime as dt

import duckdb
from pydantic import BaseModel

from catalog.table_aggregates import TableAggregates
from regionlab import codelists, lake
from regionlab.errors import UserError
from regionlab.spec import Product, Registry
from regionlab.spec.vocab import CodeSystem, Terminology
from regionlab.sql import quote_ident

PERSONS = "population/persons"
PERSON_KEY = "person_key"
#: Fewest of a product's individuals a municipality must have to be named as covered
#: (the platform's small-cell threshold: counts 1-4 are never shown).
MIN_PERSONS = 5

#: Age in whole years from an age band (`40-44`, `90+`): its lower and upper bound.
_BAND_LOW = "TRY_CAST(regexp_extract({c}, '^([0-9]+)', 1) AS INTEGER)"
_BAND_HIGH = "coalesce(TRY_CAST(regexp_extract({c}, '-([0-9]+)$', 1) AS INTEGER), 100)"


class ProductStats(BaseModel):
    individuals: int | None = None
    min_typical_age: int | None = None
    max_typical_age: int | None = None
    coverage_start: dt.date | None = None
    coverage_end: dt.date | None = None
    #: Municipality codes the data covers (sorted; only codes of the region's code list).
    municipalities: list[str] = []
    #: Codes of the product's coded columns held by enough of its individuals (sorted).
    code_values: list[str] = []
    #: For an aggregate: the individuals (and their typical ages) it is computed from.
    computed_from_individuals: int | None = None
    computed_from_min_age: int | None = None
    computed_from_max_age: int | None = None


def _table(product: Product | str) -> str:
    domain, _, name = (product.ref if isinstance(product, Product) else product).partition("/")
    return lake.table_name(domain, name)


def _tables(con: duckdb.DuckDBPyConnection) -> set[str]:
    return {f"{d}/{p}" for d, p in lake.list_tables(con)}


def _age_expr(product: Product, alias: str) -> tuple[str, str] | None:
    if product.published("age_band"):
        col = f"{alias}.{quote_ident('age_band')}"
        return _BAND_LOW.format(c=col), _BAND_HIGH.format(c=col)
    if product.published("birth_year"):
        age = f"(year(current_date) - {alias}.{quote_ident('birth_year')})"
        return age, age
    return None


def _ages(
    con: duckdb.DuckDBPyConnection, product: Product, registry: Registry, present: set[str]
) -> tuple[int | None, int | None]:
    own = _age_expr(product, "t")
    if own is not None:
        low, high = own
        sql = f"SELECT {low} AS lo, {high} AS hi FROM {_table(product)} AS t"
    elif (
        product.published(PERSON_KEY)
        and PERSONS in registry.products
        and PERSONS in present
        and (ages := _age_expr(registry.products[PERSONS], "p")) is not None
    ):
        low, high = ages
        key = quote_ident(PERSON_KEY)
        sql = (
            f"SELECT {low} AS lo, {high} AS hi FROM {_table(PERSONS)} AS p "
            f"WHERE p.{key} IN (SELECT {key} FROM {_table(product)})"
        )
    else:
        return None, None
    row = con.execute(
        f"SELECT quantile_disc(lo, 0.05), quantile_disc(hi, 0.95) FROM ({sql})"
    ).fetchone()
    if row is None or row[0] is None:
        return None, None
    return max(int(row[0]), 0), max(int(row[1]), int(row[0]))


def _coverage(
    con: duckdb.DuckDBPyConnection, product: Product
) -> tuple[dt.date | None, dt.date | None]:
    column = product.published(product.retention.from_column)
    if column is None:
        return None, None
    col = quote_ident(column.name)
    row = con.execute(
        f"SELECT CAST(min({col}) AS DATE), CAST(max({col}) AS DATE) FROM {_table(product)}"
    ).fetchone()
    return (row[0], row[1]) if row else (None, None)


def _municipality_column(product: Product) -> str | None:
    for col in product.published_columns:
        if col.code_system is CodeSystem.municipalities:
            return col.name
    return None


def _municipalities(
    con: duckdb.DuckDBPyConnection, product: Product, registry: Registry, present: set[str]
) -> list[str]:
    """Municipality codes the product's data covers (see the module docstring)."""
    key = quote_ident(PERSON_KEY)
    own = _municipality_column(product)
    persons = registry.products.get(PERSONS)
    if own is not None and product.published(PERSON_KEY):
        col = quote_ident(own)
        sql = (
            f"SELECT {col} FROM {_table(product)} GROUP BY {col} "
            f"HAVING count(DISTINCT {key}) >= {MIN_PERSONS}"
        )
    elif own is not None:  # an aggregate: its cells are already counts
        col = quote_ident(own)
        sql = f"SELECT DISTINCT {col} FROM {_table(product)}"
    elif (
        product.published(PERSON_KEY)
        and persons is not None
        and PERSONS in present
        and (home := _municipality_column(persons)) is not None
    ):
        col = f"p.{quote_ident(home)}"
        sql = (
            f"SELECT {col} FROM {_table(PERSONS)} AS p "
            f"WHERE p.{key} IN (SELECT {key} FROM {_table(product)}) "
            f"GROUP BY {col} HAVING count(*) >= {MIN_PERSONS}"
        )
    else:
        return []
    known = codelists.codes("municipalities")
    return sorted({str(r[0]) for r in con.execute(sql).fetchall()} & known)


#: Code systems whose values the export names (health classifications, not geography).
_HEALTH_CODES = (
    CodeSystem.sks_diagnoses,
    CodeSystem.sks_procedures,
    CodeSystem.npu,
    CodeSystem.atc,
)


def is_loinc(code: str) -> bool:
    """A LOINC code: ``<digits>-<check digit>``, the check digit LOINC's mod-10 (Luhn)."""
    number, sep, check = code.partition("-")
    if not sep or not number.isdigit() or len(check) != 1 or not check.isdigit():
        return False
    total = 0
    for i, ch in enumerate(reversed(number)):
        d = int(ch) * (2 if i % 2 == 0 else 1)
        total += d - 9 if d > 9 else d
    return (10 - total % 10) % 10 == int(check)


def is_code_of(terminology: Terminology, value: str) -> bool:
    """A value is a code of ``terminology`` (NPU: in the shipped list; LOINC: its syntax)."""
    if terminology is Terminology.npu:
        return value in codelists.codes(CodeSystem.npu.value)
    return is_loinc(value)


def _code_values(con: duckdb.DuckDBPyConnection, product: Product) -> list[str]:
    """Codes of the product's health-coded columns that enough of its individuals hold."""
    if not product.published(PERSON_KEY):
        return []
    key = quote_ident(PERSON_KEY)
    found: set[str] = set()
    for column in product.published_columns:
        if column.code_system not in _HEALTH_CODES and not column.terminologies:
            continue
        col = quote_ident(column.name)
        rows = con.execute(
            f"SELECT {col} FROM {_table(product)} WHERE {col} IS NOT NULL GROUP BY {col} "
            f"HAVING count(DISTINCT {key}) >= {MIN_PERSONS}"
        ).fetchall()
        values = {str(r[0]) for r in rows}
        if column.code_system in _HEALTH_CODES:
            found |= values & codelists.codes(column.code_system.value)
        found |= {v for v in values for t in column.terminologies if is_code_of(t, v)}
    return sorted(found)


def _computed_from(stats: ProductStats, product: Product, out: dict[str, ProductStats]) -> None:
    """An aggregate's population: that of its person-level upstream with the fewest individuals."""
    if product.derived is None or product.published(PERSON_KEY):
        return
    ups = [out[u] for u in product.derived.upstream if u in out and out[u].individuals]
    if not ups:
        return
    bound = min(ups, key=lambda s: s.individuals or 0)
    stats.computed_from_individuals = bound.individuals
    stats.computed_from_min_age = bound.min_typical_age
    stats.computed_from_max_age = bound.max_typical_age
    if not stats.municipalities:
        stats.municipalities = sorted({m for u in ups for m in u.municipalities})


def _own_stats(
    con: duckdb.DuckDBPyConnection, product: Product, registry: Registry, present: set[str]
) -> ProductStats:
    """The stats read from the product's own table (and the persons it joins for ages)."""
    stats = ProductStats()
    if product.published(PERSON_KEY):
        row = con.execute(
            f"SELECT count(DISTINCT {quote_ident(PERSON_KEY)}) FROM {_table(product)}"
        ).fetchone()
        stats.individuals = int(row[0]) if row else None
    try:
        stats.min_typical_age, stats.max_typical_age = _ages(con, product, registry, present)
        stats.coverage_start, stats.coverage_end = _coverage(con, product)
        stats.municipalities = _municipalities(con, product, registry, present)
        stats.code_values = _code_values(con, product)
    except duckdb.BinderException:
        # The spec names a column the published table does not have yet (edited since
        # its last publish): those aggregates are unknown until the next publish.
        pass
    return stats


def stats_from(
    con: duckdb.DuckDBPyConnection,
    registry: Registry,
    aggregates: TableAggregates | None = None,
) -> dict[str, ProductStats]:
    """Stats of every product present in the lake, read through ``con`` (one snapshot).

    With ``aggregates``, a product whose table (and the persons table) did not change
    since the last emission keeps the stats that emission read.
    """
    present = _tables(con)
    reads = [PERSONS] if PERSONS in present else []
    out: dict[str, ProductStats] = {}
    for product in registry.topological():
        if product.ref not in present:
            continue
        if aggregates is None:
            stats = _own_stats(con, product, registry, present)
        else:
            stored = aggregates.remember(
                "stats",
                product,
                reads,
                lambda p=product: _own_stats(con, p, registry, present).model_dump(mode="json"),
            )
            stats = ProductStats.model_validate(stored)
        _computed_from(stats, product, out)
        out[product.ref] = stats
    return out


def product_stats(registry: Registry) -> dict[str, ProductStats]:
    """Stats of every product present in the lake; an absent lake gives an empty dict."""
    try:
        con = lake.connect(read_only=True)
    except UserError:
        return {}
    try:
        return stats_from(con, registry)
    finally:
        con.close()
