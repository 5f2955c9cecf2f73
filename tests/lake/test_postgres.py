"""The multi-user setup: the same code with a PostgreSQL catalogue."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest

from regionlab import lake
from regionlab.lake import LakeConfig

pytestmark = pytest.mark.postgres


@pytest.fixture
def pg_config(pg_database: str, tmp_path: Path, var_dir: Path) -> LakeConfig:
    return LakeConfig.from_env(
        {
            "REGIONLAB_LAKE_CATALOG": f"postgres:{pg_database}",
            "REGIONLAB_LAKE_DATA": str(tmp_path / "pgdata"),
        }
    )


def test_publish_and_time_travel_with_postgres_catalogue(
    pg_config: LakeConfig, pg_database: str, tmp_path: Path
) -> None:
    assert pg_config.catalog_type == "postgres"
    con = lake.connect(pg_config)
    first = lake.publish(con, "clinic", "contacts", "SELECT range AS x FROM range(10)")
    second = lake.publish(
        con, "clinic", "contacts", "SELECT 100 AS x", mode="append", extra_info={"run_id": "r2"}
    )
    assert second > first
    assert lake.table_row_counts(con) == {"clinic.contacts": 11}
    assert lake.list_snapshots(con)[-1].info["run_id"] == "r2"

    old = lake.connect(pg_config, snapshot=first)
    assert old.execute("SELECT count(*), sum(x) FROM lake.clinic.contacts").fetchone() == (10, 45)
    new = lake.connect(pg_config, read_only=True)
    assert new.execute("SELECT count(*), sum(x) FROM lake.clinic.contacts").fetchone() == (11, 145)

    files = lake.data_files(con, "clinic", "contacts")
    assert len(files) == 2 and all(tmp_path / "pgdata" in f.parents for f in files)
    # The catalogue really lives in PostgreSQL, and no SQLite file was made.
    with psycopg.connect(pg_database) as pg:
        n = pg.execute("SELECT count(*) FROM ducklake_snapshot").fetchone()[0]
        assert n == len(lake.list_snapshots(con))
        assert pg.execute("SELECT count(*) FROM ducklake_table").fetchone()[0] >= 1
    assert not list(tmp_path.rglob("*.sqlite"))


def test_postgres_failed_publish_leaves_previous_snapshot(pg_config: LakeConfig) -> None:
    con = lake.connect(pg_config)
    before = lake.publish(con, "clinic", "contacts", "SELECT 1 AS x")
    with pytest.raises(Exception, match="boom"):
        lake.publish(
            con, "clinic", "contacts", "SELECT CASE WHEN range > 2 THEN error('boom') END AS x "
            "FROM range(5)"
        )  # fmt: skip
    assert lake.current_snapshot(lake.connect(pg_config, read_only=True)) == before
    assert con.execute("SELECT x FROM lake.clinic.contacts").fetchall() == [(1,)]


def test_postgres_conflicting_replace_is_retried(pg_config: LakeConfig, caplog) -> None:
    """Two replaces of one product race: DuckLake reports a transaction conflict
    to the loser, and publish tries again on the new snapshot (last one wins)."""
    con = lake.connect(pg_config)
    lake.publish(con, "demo", "target", "SELECT 0 AS x")
    other = lake.connect(pg_config)
    calls = []

    def interfere(x: int) -> int:
        if not calls:
            lake.publish(other, "demo", "target", "SELECT 100 AS x")
        calls.append(x)
        return x

    con.create_function("interfere", interfere, ["BIGINT"], "BIGINT", side_effects=True)
    caplog.set_level("WARNING", logger="regionlab.lake.publishing")
    snap = lake.publish(con, "demo", "target", "SELECT interfere(1) AS x")
    assert len(calls) == 2 and "retrying" in caplog.text
    assert lake.current_snapshot(con) == snap
    assert con.execute("SELECT x FROM lake.demo.target").fetchall() == [(1,)]


def test_postgres_concurrent_appenders(pg_config: LakeConfig, pg_database: str) -> None:
    from .conftest import start_worker

    lake.init_lake(pg_config)
    env = {
        "REGIONLAB_LAKE_CATALOG": f"postgres:{pg_database}",
        "REGIONLAB_LAKE_DATA": pg_config.data_path,
    }
    workers = [start_worker("appender", str(w), "8", env=env) for w in (1, 2)]
    for w in workers:
        _, err = w.communicate(timeout=240)
        assert w.returncode == 0, err[-3000:]
    con = lake.connect(pg_config, read_only=True)
    assert con.execute(
        "SELECT worker, count(*) FROM lake.demo.shared GROUP BY ALL ORDER BY ALL"
    ).fetchall() == [(1, 8000), (2, 8000)]
