"""``staged`` and ``quarantine`` are unchanged by the one-pass staging path.

``build_staged`` joins the person-key mapping while it writes ``staged``. The
reference here is the previous path, step by step: ``add_person_key`` (ALTER
TABLE + UPDATE of every row of ``raw``), the scrubber's identities read from
that column, and ``staged`` selected from the keyed ``raw``. Both run on the
same synthetic deliveries with planted defects, for every source product; the
tables must be equal as multisets and every key must equal the Python HMAC of
its CPR.
"""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import duckdb
import pytest

from regionlab.privacy import generalise, scrub
from regionlab.privacy.identifiers import install_cpr_macros
from regionlab.privacy.keys import PseudonymKey, init_key
from regionlab.privacy.pseudonym import add_person_key, person_key
from regionlab.spec import Product, load_domains
from regionlab.spec.vocab import Pseudonymisation as P
from regionlab.sql import quote_ident
from regionlab.synth.generate import generate
from regionlab.wap.pseudonymise import (
    PERSON_KEY_COLUMN,
    build_staged,
    quarantine_duplicates,
    quarantine_invalid_cpr,
    staged_select,
)
from regionlab.wap.register_names import Register, register_names
from regionlab.wap.sources import find_extracts, ingest

AS_OF = dt.date(2026, 11, 1)


@pytest.fixture(scope="module")
def sources(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("equiv") / "sources"
    generate(out=out, persons=400, seed=23, defect_rate=0.05, as_of=AS_OF, deliveries=3)
    return out


@pytest.fixture(scope="module")
def key(tmp_path_factory: pytest.TempPathFactory) -> PseudonymKey:
    return init_key(tmp_path_factory.mktemp("equiv_key") / "pseudonym.key")


def _reference(
    con: duckdb.DuckDBPyConnection,
    product: Product,
    key: PseudonymKey,
    register: Register,
    ref_date: dt.date,
    delivery: str,
) -> None:
    """The previous implementation: two quarantine moves, then a key UPDATEd into ``raw``."""
    quarantine_duplicates(con, product)
    source = "raw"
    texts = [c.name for c in product.columns if c.pseudonymisation is P.scrub_text]
    identities = None
    if product.person_column:
        quarantine_invalid_cpr(con, product)
        add_person_key(con, "raw", key, product.person_column)
        if texts:
            identities = register.install_identities(con, "raw", product.person_column)
        source = f"(SELECT *, person_key AS {PERSON_KEY_COLUMN} FROM raw) AS raw"
    for column in texts:
        scrub.scrub_column(con, "raw", column, register.names, identities=identities)
    if any(c.pseudonymisation is P.municipality for c in product.columns):
        generalise.install_postcodes(con)
    select = staged_select(product, ref_date, delivery)
    con.execute(f"CREATE TABLE staged AS SELECT {select} FROM {source}")


def _multiset_difference(
    a: duckdb.DuckDBPyConnection, b: duckdb.DuckDBPyConnection, table: str
) -> int:
    b_rows = b.execute(f"SELECT * FROM {table}").to_arrow_table()
    a.register("__other", b_rows)
    try:
        (left,) = a.execute(
            f"SELECT count(*) FROM (FROM {table} EXCEPT ALL FROM __other)"
        ).fetchone()
        (right,) = a.execute(
            f"SELECT count(*) FROM (FROM __other EXCEPT ALL FROM {table})"
        ).fetchone()
    finally:
        a.unregister("__other")
    return left + right


def _source_products() -> list[Product]:
    return [p for p in load_domains().batch_order() if not p.is_derived]


@pytest.mark.parametrize("product", _source_products(), ids=lambda p: p.ref)
def test_one_pass_staging_equals_previous_path(
    product: Product, sources: Path, key: PseudonymKey, tmp_path: Path
) -> None:
    files = find_extracts(sources, product)
    assert files, f"no synthetic extracts for {product.ref}"
    ref_date = max(f.date for f in files)
    register = register_names(sources)
    delivery = "_extract"
    # One ingest copied twice: the reader's reject rows are not byte-stable between reads.
    first = tmp_path / "new.duckdb"
    con = duckdb.connect(str(first))
    ingest(con, product, list(files))
    if product.person_column:  # rows both copied and with an invalid CPR: which reason wins
        install_cpr_macros(con)
        cpr = quote_ident(product.person_column)
        con.execute(
            f"INSERT INTO raw SELECT * FROM raw WHERE rowid IN (SELECT rowid FROM raw "
            f"WHERE {cpr} IS NULL OR NOT cpr_is_valid({cpr}) LIMIT 3)"
        )
    con.close()
    shutil.copy(first, tmp_path / "old.duckdb")
    new, old = duckdb.connect(str(first)), duckdb.connect(str(tmp_path / "old.duckdb"))

    quarantine_duplicates(new, product)
    if product.person_column:
        quarantine_invalid_cpr(new, product)
    build_staged(new, product, key, register, ref_date, delivery)
    _reference(old, product, key, register, ref_date, delivery)

    for table in ("staged", "quarantine"):
        counts = [c.execute(f"SELECT count(*) FROM {table}").fetchone()[0] for c in (new, old)]
        assert counts[0] == counts[1], f"{product.ref}: {table} row counts differ"
        assert _multiset_difference(new, old, table) == 0, f"{product.ref}: {table} differs"
    reasons = dict(new.execute("SELECT reason, count(*) FROM quarantine GROUP BY 1").fetchall())
    if product.person_column:
        # The planted defects reach both quarantines (so the comparison above is not vacuous).
        assert reasons.get("invalid_cpr", 0) > 0
        pairs = old.execute(
            f'SELECT DISTINCT "{product.person_column}", person_key FROM raw'
        ).fetchall()
        assert pairs and all(k == person_key(c, key) for c, k in pairs)
        # No staged row lost its key to the join.
        (keyless,) = new.execute("SELECT count(*) FROM staged WHERE person_key IS NULL").fetchone()
        assert keyless == 0
    assert reasons.get("duplicate_row", 0) > 0 or product.ref.endswith("initiatives")
    # The per-CPR identities of the one-pass path are dropped again; the key mapping stays
    # (for the erasure hook) only where there is a person.
    tables = {r[0] for r in new.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
    assert "__rl_identities_by_cpr" not in tables
    assert ("__rl_person_keys" in tables) == bool(product.person_column)
    # The identities the privacy audit reads later are still there, and the same.
    if product.person_column and any(c.pseudonymisation is P.scrub_text for c in product.columns):
        assert _multiset_difference(new, old, "temp.main.__rl_identities") == 0
