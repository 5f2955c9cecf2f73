"""Several processes on one SQLite catalogue: readers only ever see whole snapshots."""

from __future__ import annotations

import json
import time
from pathlib import Path

from regionlab import lake
from regionlab.lake import LakeConfig

from ._lake_worker import BATCH, app_sum, rep_sum, write_version
from .conftest import start_worker

VERSIONS = 15


def _result(proc, timeout: float = 240) -> dict:
    out, err = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, err[-3000:]
    return json.loads(out.strip().splitlines()[-1])


def _wait_for(marker: Path, proc, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not marker.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert marker.exists(), f"worker did not get ready: {proc.poll()=}"


def test_reader_sees_only_whole_snapshots_while_writer_commits(
    lake_config: LakeConfig, tmp_path: Path
) -> None:
    con = lake.connect(lake_config)
    write_version(con, 1)  # the tables exist before the reader starts
    stop, ready = tmp_path / "writer-done", tmp_path / "reader-ready"

    reader = start_worker("reader", str(stop), str(ready))
    _wait_for(ready, reader)
    writer = start_worker("writer", "2", str(VERSIONS), "0.15")
    written = _result(writer)
    stop.touch()
    seen = _result(reader)

    assert written == {"written": VERSIONS}
    assert seen["errors"] == []
    assert seen["violations"] == []
    assert seen["reads"] >= 10
    # Progress: the reader saw several versions, and the final one at the end.
    assert len(seen["seen_app"]) >= 3, seen["seen_app"]
    assert max(seen["seen_app"]) == VERSIONS and max(seen["seen_rep"]) == VERSIONS
    # A long-lived connection moves on too: each query is a transaction on the newest snapshot.
    assert len(seen["seen_long"]) >= 2, seen["seen_long"]

    assert lake.table_row_counts(con) == {
        "demo.app": VERSIONS * BATCH,
        "demo.rep": VERSIONS * BATCH,
    }
    assert con.execute("SELECT sum(x) FROM lake.demo.app").fetchone()[0] == app_sum(VERSIONS)
    assert con.execute("SELECT sum(x) FROM lake.demo.rep").fetchone()[0] == rep_sum(VERSIONS)


def test_concurrent_writers_lose_no_snapshot(lake_config: LakeConfig) -> None:
    per_writer = 8
    start = lake.current_snapshot(lake.connect(lake_config))
    writers = [start_worker("appender", str(w), str(per_writer)) for w in (1, 2, 3)]
    results = [_result(w) for w in writers]
    assert [r["appended"] for r in results] == [per_writer] * 3

    con = lake.connect(lake_config, read_only=True)
    per_worker = con.execute(
        "SELECT worker, count(*) FROM lake.demo.shared GROUP BY ALL ORDER BY ALL"
    ).fetchall()
    assert per_worker == [(w, per_writer * BATCH) for w in (1, 2, 3)]
    snaps = [s for s in lake.list_snapshots(con) if s.id > start]
    assert len(snaps) == 3 * per_writer
    assert sorted(s.info["worker"] for s in snaps) == sorted([1, 2, 3] * per_writer)
    assert all(s.info["rows"] == BATCH for s in snaps)


def test_publish_retries_when_another_writer_commits_in_between(
    lake_config: LakeConfig, caplog
) -> None:
    """On SQLite a transaction whose read went stale fails with "database is locked"
    at commit; publish must roll back and try again rather than give up."""
    con = lake.connect(lake_config)
    lake.publish(con, "demo", "target", "SELECT 0 AS x")
    other = lake.connect(lake_config)  # a writer that does not take regionlab's lock
    calls = []

    def interfere(x: int) -> int:
        if not calls:
            other.execute("INSERT INTO lake.demo.target VALUES (100)")  # commits mid-publish
        calls.append(x)
        return x

    con.create_function("interfere", interfere, ["BIGINT"], "BIGINT", side_effects=True)
    caplog.set_level("WARNING", logger="regionlab.lake.publishing")
    snap = lake.publish(con, "demo", "target", "SELECT interfere(1) AS x", mode="append")

    assert len(calls) == 2, "the first attempt should have failed and been retried"
    assert "retrying" in caplog.text
    assert lake.current_snapshot(con) == snap
    rows = con.execute("SELECT x FROM lake.demo.target ORDER BY x").fetchall()
    assert rows == [(0,), (1,), (100,)]


def test_catalog_lock_holds_back_a_publisher_in_another_process(
    lake_config: LakeConfig, tmp_path: Path
) -> None:
    con = lake.connect(lake_config)
    start = lake.current_snapshot(con)
    ready = tmp_path / "ready"
    with lake.catalog_lock(lake_config.catalog):
        writer = start_worker("appender", "9", "1", str(ready))
        _wait_for(ready, writer)
        time.sleep(1.5)
        assert writer.poll() is None, "the publisher finished while the lock was held"
        assert lake.current_snapshot(lake.connect(lake_config, read_only=True)) == start
    assert _result(writer) == {"worker": 9, "appended": 1}
    assert lake.current_snapshot(con) == start + 1
