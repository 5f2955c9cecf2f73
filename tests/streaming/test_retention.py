"""Retention covers a streaming product: rows in Parquet and rows still inlined in the catalogue.

Two micro-batches through the consumer's write–audit–publish on a real DuckLake:
the first written as Parquet, the second inlined in the catalogue (as the consumer
sets the table up after its first publish). Each holds events observed more than
the spec's ten years ago and recent ones; retention removes exactly the old ones
from both places, and no copy of them stays in the catalogue database or a file.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
import pytest

from regionlab import lake
from regionlab.erasure import apply_retention
from regionlab.privacy.keys import load_key
from regionlab.settings import Settings
from regionlab.spec import Product
from regionlab.streaming.consumer import _inline
from regionlab.streaming.microbatch import Message, process_batch
from regionlab.synth.fhir_events import EventFactory, Population, body
from regionlab.wap.register_names import register_names

pytestmark = pytest.mark.slow

OLD = "2010-03-04T10:00:00+00:00"  # before the 10-year cutoff of any date this test runs on


def _batch(factory: EventFactory, start: int) -> tuple[list[Message], list[str], list[str]]:
    now = dt.datetime.now(dt.UTC)
    messages, old, new = [], [], []
    for i in range(8):
        resource = factory.resource("Observation", now, None)
        if i % 2 == 0:
            resource["effectiveDateTime"] = OLD
            old.append(str(resource["id"]))
        else:
            new.append(str(resource["id"]))
        messages.append(Message(start + i, f"ret-{start + i}", body(resource)))
    return messages, old, new


def _catalog_bytes(settings: Settings) -> bytes:
    catalog = settings.lake_dir / "catalog.sqlite"
    return b"".join(p.read_bytes() for p in (catalog, Path(f"{catalog}-wal")) if p.is_file())


def test_retention_removes_old_stream_rows_in_parquet_and_inlined(
    region: Settings, product: Product
) -> None:
    factory = EventFactory(Population.load(region.sources_dir), seed=9, defect_rate=0.0)
    key, register = load_key(), register_names(region.sources_dir)
    first, old1, new1 = _batch(factory, 0)
    second, old2, new2 = _batch(factory, 100)
    con = lake.connect()
    try:
        assert process_batch(con, region, product, key, register, first).published == 8
        _inline(con, product)
        assert process_batch(con, region, product, key, register, second).published == 8
        assert lake.inlined_rows(con)[product.table] == 8  # the second batch: inlined
    finally:
        con.close()
    assert all(i.encode() in _catalog_bytes(region) for i in old2)  # the control

    receipt = apply_retention(dt.datetime.now(dt.UTC).date())

    assert receipt.verification.passed, receipt.verification
    assert receipt.removed.lake == {product.ref: 8}
    con = lake.connect(read_only=True)
    try:
        left = {
            r[0] for r in con.execute(f"SELECT observation_id FROM lake.{product.table}").fetchall()
        }
    finally:
        con.close()
    assert left == set(new1 + new2)
    catalog = _catalog_bytes(region)
    assert not any(i.encode() in catalog for i in old1 + old2)
    for path in (region.lake_dir / "data").rglob("*.parquet"):
        text = duckdb.sql(f"SELECT CAST(t AS VARCHAR) FROM read_parquet('{path}') t").fetchall()
        assert not any(i in row[0] for row in text for i in old1 + old2), path.name
