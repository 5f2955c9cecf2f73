"""Turn ``raw`` into ``staged``: apply each column's pseudonymisation rule from the spec.

Runs entirely in the staging DuckDB file. Rows whose CPR is invalid, exact
duplicates and rows of erased persons go to quarantine first, so ``staged``
holds only rows that may be published once the audit passes.
"""

from __future__ import annotations

import datetime as dt

import duckdb

from regionlab.platform.names import DELIVERY_COLUMN
from regionlab.privacy import generalise, scrub
from regionlab.privacy.identifiers import install_cpr_macros
from regionlab.privacy.keys import PseudonymKey
from regionlab.privacy.pseudonym import PERSON_KEYS, person_key_mapping
from regionlab.spec import Product
from regionlab.spec.vocab import Pseudonymisation as P
from regionlab.sql import quote_ident
from regionlab.steps import step
from regionlab.wap.register_names import Register, identities_by_cpr


def _quarantine(con: duckdb.DuckDBPyConnection, product: Product, where: str, reason: str) -> None:
    """Move rows of ``raw`` matching ``where`` to quarantine with ``reason``."""
    record = quote_ident(product.columns[0].name)
    key = product.row_key[0]
    for col in product.columns:
        if col.name == key or col.output == key:
            record = quote_ident(col.name)
    con.execute(
        f"""INSERT INTO quarantine SELECT _extract, NULL, CAST({record} AS VARCHAR), '{reason}',
        NULL, to_json(raw)::VARCHAR FROM raw WHERE {where}"""
    )
    con.execute(f"DELETE FROM raw WHERE {where}")


def quarantine_duplicates(con: duckdb.DuckDBPyConnection, product: Product) -> None:
    """Exact copies of a row (same values in every source column) keep only the first.

    Rows are hashed first and only the few whose hash occurs twice are numbered by a
    window over all columns (exact, NULLs equal), instead of sorting the whole table.
    """
    cols = ", ".join(quote_ident(c.name) for c in product.columns)
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE _dups AS
        WITH multi AS (SELECT hash({cols}) AS h FROM raw GROUP BY h HAVING count(*) > 1),
             candidates AS (SELECT rowid AS rid, {cols} FROM raw
                            WHERE hash({cols}) IN (SELECT h FROM multi))
        SELECT rid FROM (SELECT rid, row_number() OVER (PARTITION BY {cols} ORDER BY rid) AS n
                         FROM candidates) WHERE n > 1"""
    )
    _quarantine(con, product, "rowid IN (SELECT rid FROM _dups)", "duplicate_row")


def quarantine_invalid_cpr(con: duckdb.DuckDBPyConnection, product: Product) -> None:
    """Rows whose CPR number is not a valid CPR number; validity is decided once per distinct
    value (an extract repeats each person many times)."""
    assert product.person_column
    install_cpr_macros(con)
    cpr = quote_ident(product.person_column)
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE _bad_cpr AS SELECT v FROM (SELECT DISTINCT {cpr} AS v
        FROM raw) WHERE NOT cpr_is_valid(v)"""
    )
    where = f"({cpr} IN (SELECT v FROM _bad_cpr) OR {cpr} IS NULL)"
    _quarantine(con, product, where, "invalid_cpr")


PERSON_KEY_COLUMN = "__rl_person_key"  # the joined key's column in build_staged's source


def _expression(product: Product, name: str, reference_date: dt.date) -> str:
    col = next(c for c in product.columns if c.name == name)
    q = quote_ident(col.name)
    rule = col.pseudonymisation
    if rule is P.keep or rule is P.scrub_text:
        return q
    if rule is P.person_key:
        return PERSON_KEY_COLUMN
    if rule is P.age_band:
        return generalise.age_band_sql(col.name, reference_date)
    return generalise.generalisation_sql(rule.value, col.name)


def staged_select(product: Product, reference_date: dt.date, delivery: str | None) -> str:
    """The select list of ``staged`` over ``raw`` (the person key as ``__rl_person_key``)."""
    select = ", ".join(
        f"CAST({_expression(product, pub.source_column, reference_date)} AS {pub.type.duckdb}) "
        f"AS {quote_ident(pub.name)}"
        for pub in product.published_columns
    )
    if delivery is not None:
        select += f", CAST({delivery} AS VARCHAR) AS {quote_ident(DELIVERY_COLUMN)}"
    return select


def build_staged(
    con: duckdb.DuckDBPyConnection,
    product: Product,
    key: PseudonymKey | None,
    register: Register,
    reference_date: dt.date,
    delivery: str | None = None,
) -> None:
    """Create ``staged`` with exactly the product's published columns.

    Free text is scrubbed of the register's identifiers and, where the product
    names its person, of that person's own (see ``regionlab.privacy.scrub``).
    ``delivery`` (SQL over ``raw``, e.g. its ``_extract``) adds the platform's
    :data:`~regionlab.platform.names.DELIVERY_COLUMN`: which delivery each row came from.
    """
    person_column = product.person_column
    mapping = None
    if person_column:
        assert key is not None
        with step("pseudonymise.person_key"):
            mapping = person_key_mapping(
                con, "raw", key, cpr_column=person_column, name=PERSON_KEYS
            )
    scrub_texts(con, product, register, person_column, mapping)
    if any(c.pseudonymisation is P.municipality for c in product.columns):
        generalise.install_postcodes(con)
    select = staged_select(product, reference_date, delivery)
    source = "raw"
    if mapping is not None:
        assert person_column is not None
        # One pass: the key is joined here instead of added to ``raw`` and UPDATEd
        # into every row; the subquery keeps ``raw``'s column names unqualified.
        source = (
            f"(SELECT raw.*, __rl_m.__rl_value AS {PERSON_KEY_COLUMN} FROM raw "
            f"LEFT JOIN temp.main.{mapping} AS __rl_m "
            f"ON raw.{quote_ident(person_column)} = __rl_m.__rl_raw) AS raw"
        )
    with step("pseudonymise.write_staged"):
        con.execute(f"CREATE OR REPLACE TABLE staged AS SELECT {select} FROM {source}")


def scrub_texts(
    con: duckdb.DuckDBPyConnection,
    product: Product,
    register: Register,
    person_column: str | None,
    mapping: str | None,
) -> None:
    """Scrub the product's free-text columns of ``raw`` in place (before ``staged`` is built).

    Each row's own person is found through ``mapping`` (CPR → person key), since
    ``raw`` has no key column.
    """
    texts = [c.name for c in product.columns if c.pseudonymisation is P.scrub_text]
    identities = None
    if (
        texts
        and person_column
        and mapping is not None
        and register.install_identities(con, "raw", person_column, mapping=mapping) is not None
    ):
        identities = identities_by_cpr(con, mapping, person_column)
    try:
        for column in texts:
            with step("pseudonymise.scrub_text"):
                scrub.scrub_column(con, "raw", column, register.names, identities=identities)
    finally:
        if identities is not None:  # names and addresses per CPR: not kept past the scrub
            con.execute(f"DROP TABLE IF EXISTS {identities.table}")
