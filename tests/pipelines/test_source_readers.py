"""The source seam: a new source format is one reader class, registered in one module.

``TsvFiles`` below reads tab-separated extracts, a format the platform does not
ship. Defined and registered here, it carries a product through the real
engine — discovery, fingerprints in the load log, the reconciliation count,
quarantine of a line it cannot type, publish — without touching the engine.
"""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Iterator

import duckdb
import pytest

from regionlab import lake
from regionlab.settings import Settings
from regionlab.spec import Product, load_domains
from regionlab.synth.generate import generate
from regionlab.wap.engine import run_source_product
from regionlab.wap.formats import count_lines
from regionlab.wap.sources import (
    DatedFiles,
    Extract,
    find_extracts,
    register_reader,
    unregister_reader,
)

AS_OF = dt.date(2026, 11, 1)


class TsvFiles(DatedFiles):
    """Tab-separated values with a header line."""

    suffix = "tsv"

    def count(self, delivery: Extract) -> int:
        return count_lines(delivery) - 1

    def read(
        self, con: duckdb.DuckDBPyConnection, product: Product, deliveries: list[Extract]
    ) -> None:
        columns = "{" + ", ".join(f"'{c.name}': '{c.type.duckdb}'" for c in product.columns) + "}"
        con.execute(
            f"""CREATE OR REPLACE TABLE raw AS SELECT * FROM read_csv(?, header=true,
            auto_detect=false, columns={columns}, delim='\\t', quote='', escape='',
            dateformat='%Y-%m-%d', store_rejects=true, rejects_table='rejects_err',
            rejects_scan='rejects_scan', filename='_extract')""",
            [[str(d.path) for d in deliveries]],
        )
        con.execute(
            """INSERT INTO quarantine
            SELECT s.file_path, e.line, NULL, 'malformed_line', string_agg(DISTINCT
                   CAST(e.error_type AS VARCHAR), ', '), any_value(e.csv_line)
            FROM rejects_err e JOIN rejects_scan s USING (scan_id, file_id)
            GROUP BY s.file_path, e.line"""
        )


@pytest.fixture
def tsv() -> Iterator[TsvFiles]:
    reader = register_reader("tsv", TsvFiles())
    yield reader
    unregister_reader("tsv")


def _as_tsv(settings: Settings) -> tuple[Product, int]:
    """The initiatives register delivered as TSV (one extra line that cannot be typed)."""
    csv_product = load_domains().product("initiatives/initiatives")
    assert csv_product.source is not None
    [delivery] = find_extracts(settings.sources_dir, csv_product)
    with delivery.path.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle))
    target = delivery.path.with_suffix(".tsv")
    lines = ["\t".join(cell.replace("\t", " ") for cell in row) for row in rows]
    bad = rows[1][:]
    bad[[c.name for c in csv_product.columns].index("started")] = "not a date"
    lines.append("\t".join(bad))
    target.write_text("\n".join(lines) + "\n", encoding="utf-8")
    delivery.path.unlink()
    source = csv_product.source.model_copy(update={"format": "tsv"})
    return csv_product.model_copy(update={"source": source}), len(rows) - 1


@pytest.mark.slow
def test_a_new_source_format_is_one_reader(tsv, keyed_var: Settings) -> None:
    generate(out=keyed_var.sources_dir, persons=50, seed=3, defect_rate=0.0, as_of=AS_OF,
             deliveries=1)  # fmt: skip
    product, rows = _as_tsv(keyed_var)
    [extract] = find_extracts(keyed_var.sources_dir, product)
    assert extract.name.endswith(".tsv")

    run = run_source_product(product, keyed_var)
    assert run.status == "published", run.blocking_failures
    assert run.rows_read == rows + 1
    assert (run.rows_published, dict(run.quarantined)) == (rows, {"malformed_line": 1})
    con = lake.connect(read_only=True)
    try:
        published = con.execute("SELECT count(*) FROM lake.initiatives.initiatives").fetchone()[0]
        logged = con.execute(
            "SELECT extract, sha256 FROM lake._regionlab.load_log WHERE product = ?",
            [product.ref],
        ).fetchall()
    finally:
        con.close()
    assert published == rows
    assert logged == [(extract.name, tsv.fingerprint(extract))]
    # Delivered again unchanged: the load log's fingerprint says there is nothing new.
    assert run_source_product(product, keyed_var).status == "up_to_date"
