"""Data inlining on DuckDB 1.5: the platform's policy, the guarded flush, and its known bugs.

Regression tests for duckdb/ducklake#1368 (CHECKPOINT does not flush inlined
data) and duckdb/ducklake#650 (a flush racing inserts duplicated rows).
"""

from __future__ import annotations

import time
from pathlib import Path

import duckdb
import pytest

from regionlab import lake
from regionlab.lake import LakeConfig
from regionlab.lake.inlining import BOOKKEEPING_INLINE_ROWS, FlushIntegrityError, _verify_flush

from .conftest import start_worker
from .test_concurrency import _result, _wait_for


def _parquet(config: LakeConfig, folder: str) -> list[Path]:
    return sorted((Path(config.data_path) / folder).rglob("*.parquet"))


def _history(n: int, run: int) -> list[tuple[str, list[object]]]:
    """Bookkeeping like a publish's quality history: one single-row INSERT per check."""
    return [("CREATE TABLE IF NOT EXISTS lake._regionlab.history (run INT, c INT)", [])] + [
        (f"INSERT INTO lake._regionlab.history VALUES ({run}, {i})", []) for i in range(n)
    ]


def _stream(con: duckdb.DuckDBPyConnection, rows: int = 100) -> None:
    con.execute("CREATE SCHEMA IF NOT EXISTS lake.stream")
    lake.set_inlining(con, rows, schema="stream")


def test_products_write_parquet_and_bookkeeping_stays_in_the_catalogue(
    lake_config: LakeConfig,
) -> None:
    con = lake.connect(lake_config)
    bootstrap = [("CREATE SCHEMA IF NOT EXISTS lake._regionlab", [])]
    lake.publish(con, "clinic", "contacts", "SELECT 1 AS x", also=bootstrap + _history(10, 0))
    options = con.execute(
        "SELECT value, scope, scope_entry FROM ducklake_options('lake') "
        "WHERE option_name = 'data_inlining_row_limit' ORDER BY scope"
    ).fetchall()
    assert options == [
        ("0", "GLOBAL", None),
        (str(BOOKKEEPING_INLINE_ROWS), "SCHEMA", "_regionlab"),
    ]
    first = len(_parquet(lake_config, "_regionlab"))  # the publish that made the schema

    for run in range(1, 6):
        lake.publish(
            con, "clinic", "contacts", "SELECT 1 AS x", mode="append", also=_history(10, run)
        )
    assert len(_parquet(lake_config, "clinic")) == 6, "a product publish of one row is one file"
    assert len(_parquet(lake_config, "_regionlab")) == first, "bookkeeping rows were not inlined"
    assert lake.inlined_rows(con) == {"_regionlab.history": 50}
    assert con.execute("SELECT count(*) FROM lake._regionlab.history").fetchone()[0] == 60
    con.close()

    # The policy is in the catalogue: a plain DuckDB client with DuckLake's default limit
    # (10 rows) and a larger attach option still writes a product insert as Parquet.
    plain = lake.duckdb_connect()
    plain.execute(lake_config.attach_sql().replace("(", "(DATA_INLINING_ROW_LIMIT 50, ", 1))
    plain.execute("INSERT INTO lake.clinic.contacts VALUES (2)")
    plain.close()
    assert len(_parquet(lake_config, "clinic")) == 7


def test_a_publish_may_create_one_bookkeeping_table_and_inline_into_another(
    lake_config: LakeConfig,
) -> None:
    """DuckLake 1.5.5 fails a commit that creates a table in an inlining schema and
    inlines into another of its tables; a publish after a failed audit did exactly that
    (quality history existed, the load log did not). The publish creates them first."""
    con = lake.connect(lake_config)
    bootstrap = [("CREATE SCHEMA IF NOT EXISTS lake._regionlab", [])]
    lake.publish(con, "clinic", "contacts", "SELECT 1 AS x", also=bootstrap + _history(1, 0))
    log = [
        ("CREATE TABLE IF NOT EXISTS lake._regionlab.log (run INT)", []),
        ("INSERT INTO lake._regionlab.log VALUES (1)", []),
    ]
    lake.publish(con, "clinic", "contacts", "SELECT 2 AS x", also=log + _history(1, 1))
    assert con.execute("SELECT count(*) FROM lake._regionlab.log").fetchone()[0] == 1
    assert con.execute("SELECT count(*) FROM lake._regionlab.history").fetchone()[0] == 2
    assert lake.inlined_rows(con)["_regionlab.history"] == 1
    assert con.execute("SELECT x FROM lake.clinic.contacts").fetchall() == [(2,)]
    con.close()


def test_checkpoint_is_not_relied_on_the_flush_is_explicit(lake_config: LakeConfig) -> None:
    """duckdb/ducklake#1368: a bare CHECKPOINT leaves inlined rows where they are."""
    con = lake.connect(lake_config)
    _stream(con)
    for i in range(4):
        lake.publish(con, "stream", "events", f"SELECT {i} AS event_id", mode="append")
    before = lake.current_snapshot(con)
    con.execute("CHECKPOINT")
    # If this starts failing, DuckLake fixed #1368; the explicit flush below stays right.
    assert lake.inlined_rows(con) == {"stream.events": 4}, "CHECKPOINT flushed after all"
    assert _parquet(lake_config, "stream") == []

    assert lake.flush_inlined_data(con) == {"stream.events": 4}
    assert lake.inlined_rows(con) == {}
    [file] = _parquet(lake_config, "stream")
    assert duckdb.sql(f"SELECT count(*) FROM read_parquet('{file}')").fetchone()[0] == 4
    assert con.execute("SELECT sum(event_id) FROM lake.stream.events").fetchone()[0] == 6
    # Time travel still sees each micro-batch where it was.
    old = con.execute(f"SELECT count(*) FROM lake.stream.events AT (VERSION => {before - 1})")
    assert old.fetchone()[0] == 3
    assert lake.flush_inlined_data(con) == {}, "a second flush has nothing to do"


@pytest.mark.parametrize(
    "catalogue", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def test_flush_while_streamers_insert_loses_and_duplicates_nothing(
    catalogue: str, lake_config: LakeConfig, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """duckdb/ducklake#650: flushes racing inserts from two other processes."""
    env: dict[str, str] = {}
    if catalogue == "postgres":
        pg = request.getfixturevalue("pg_database")
        env = {
            "REGIONLAB_LAKE_CATALOG": f"postgres:{pg}",
            "REGIONLAB_LAKE_DATA": str(tmp_path / "pg"),
        }
        lake_config = LakeConfig.from_env(env)
    con = lake.connect(lake_config)
    _stream(con)
    lake.publish(con, "stream", "events", "SELECT -1 AS event_id, -1 AS worker", mode="append")
    batches = 12
    workers = []
    for w in (1, 2):
        ready = tmp_path / f"ready-{w}"
        workers.append(start_worker("streamer", str(w), str(batches), str(ready), env=env))
        _wait_for(ready, workers[-1])
    flushes = 0
    while any(p.poll() is None for p in workers):
        flushes += bool(lake.flush_inlined_data(con, schema="stream"))
        time.sleep(0.05)
    results = [_result(p) for p in workers]
    lake.flush_inlined_data(con, schema="stream")

    assert [r["batches"] for r in results] == [batches, batches]
    assert flushes >= 1, "no flush overlapped the inserts"
    total, distinct, ids = con.execute(
        "SELECT count(*), count(DISTINCT event_id), count(DISTINCT rowid) FROM lake.stream.events"
    ).fetchone()
    assert total == distinct == ids == 1 + 2 * batches * 3
    assert lake.inlined_rows(con) == {}
    con.close()


def test_flush_verification_fails_when_a_table_changed(lake_config: LakeConfig) -> None:
    """The post-commit check compares a flush's snapshot with the one before it."""
    con = lake.connect(lake_config)
    lake.publish(con, "clinic", "contacts", "SELECT 1 AS x")
    lake.publish(con, "clinic", "contacts", "SELECT 2 AS x", mode="append")
    # Pretend the append was a flush: its snapshot holds a row more than the previous one.
    with pytest.raises(FlushIntegrityError, match=r"clinic\.contacts holds 2 rows .* held 1"):
        _verify_flush(con, "lake", {"clinic.contacts": 0})


def test_flush_is_refused_while_a_transaction_is_open(lake_config: LakeConfig) -> None:
    con = lake.connect(lake_config)
    _stream(con)
    lake.publish(con, "stream", "events", "SELECT 1 AS event_id", mode="append")
    con.execute("BEGIN TRANSACTION")
    with pytest.raises(duckdb.TransactionException):
        lake.flush_inlined_data(con)
    con.execute("ROLLBACK")
    assert lake.inlined_rows(con) == {"stream.events": 1}
