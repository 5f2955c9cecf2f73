"""Frequent publishes keep the platform's bookkeeping tables at a bounded number of files."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from regionlab import lake
from regionlab.lake import LakeConfig, compaction

PUBLISHES = 30
CHECKS = 10  # single-row INSERTs per publish, like a product's quality history


def _also(run: int) -> list[tuple[str, list[object]]]:
    return [
        ("CREATE SCHEMA IF NOT EXISTS lake._regionlab", []),
        ("CREATE TABLE IF NOT EXISTS lake._regionlab.history (run INT, c INT)", []),
        ("CREATE TABLE IF NOT EXISTS lake._regionlab.loads (run INT)", []),
        (f"INSERT INTO lake._regionlab.loads VALUES ({run})", []),
    ] + [(f"INSERT INTO lake._regionlab.history VALUES ({run}, {i})", []) for i in range(CHECKS)]


def _files(config: LakeConfig) -> int:
    return len(list((Path(config.data_path) / "_regionlab").rglob("*.parquet")))


def test_bookkeeping_files_stay_bounded_under_frequent_publishes(
    lake_config: LakeConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(compaction, "FLUSH_AFTER_ROWS", 5 * (CHECKS + 1))
    monkeypatch.setattr(compaction, "GRACE", timedelta(0))
    con = lake.connect(lake_config)
    counts, snapshots = [], []
    for run in range(PUBLISHES):
        snapshots.append(lake.publish(con, "clinic", "contacts", f"SELECT {run} AS x",
                                      mode="append", also=_also(run)))  # fmt: skip
        counts.append(_files(lake_config))
    first = counts[0]  # the first publish creates the schema, before its inlining option
    assert first == 1 + CHECKS
    assert max(counts) <= first, counts
    assert counts[-1] <= 2 * 2, f"more than two files per bookkeeping table: {counts}"
    assert lake.inlined_rows(con).get("_regionlab.history", 0) < 5 * (CHECKS + 1)

    # Everything is still there, and time travel still reads each publish's state.
    assert con.execute("SELECT count(*) FROM lake._regionlab.history").fetchone()[0] == (
        PUBLISHES * CHECKS
    )
    for k in (0, PUBLISHES // 2, PUBLISHES - 1):
        at = con.execute(
            f"SELECT count(*) FROM lake._regionlab.history AT (VERSION => {snapshots[k]})"
        ).fetchone()[0]
        assert at == (k + 1) * CHECKS, k
    con.close()


def test_without_inlining_every_small_insert_is_a_file(lake_config: LakeConfig) -> None:
    """The DuckDB 1.4 behaviour, for comparison in the same run: nothing bounds it."""
    con = lake.connect(lake_config)
    lake.publish(con, "clinic", "contacts", "SELECT 0 AS x", also=_also(0))
    lake.set_inlining(con, 0, schema="_regionlab")
    for run in range(1, 6):
        lake.publish(con, "clinic", "contacts", f"SELECT {run} AS x", mode="append",
                     also=_also(run))  # fmt: skip
    assert _files(lake_config) == 6 * (CHECKS + 1)
    result = lake.compact_bookkeeping(con, grace=timedelta(0))
    assert result.merged == {"_regionlab.history": (6 * CHECKS, 1), "_regionlab.loads": (6, 1)}
    assert _files(lake_config) == 2
    con.close()
