"""Publishing: one transaction per product run, nothing visible from a failed one."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pandas as pd
import pytest

from regionlab import lake
from regionlab.errors import UserError
from regionlab.lake import LakeConfig


def _rows(con, table: str = "lake.clinic.contacts") -> list[tuple]:
    return con.execute(f"SELECT * FROM {table} ORDER BY ALL").fetchall()


def test_failure_mid_publish_leaves_previous_snapshot(lake_config: LakeConfig) -> None:
    con = lake.connect(lake_config)
    before = lake.publish(con, "clinic", "contacts", "SELECT range AS x FROM range(5)")
    files_before = lake.data_files(con, "clinic", "contacts")
    # The schema statement and the table replacement run; then evaluating the rows fails.
    failing = "SELECT CASE WHEN range < 3 THEN range ELSE error('boom') END AS x FROM range(10)"
    for mode in ("replace", "append"):
        with pytest.raises(duckdb.Error, match="boom"):
            lake.publish(con, "clinic", "contacts", failing, mode=mode)
    # A failure in a new domain must not leave its schema behind either.
    with pytest.raises(duckdb.Error, match="boom"):
        lake.publish(con, "newdomain", "things", failing)

    for reader in (con, lake.connect(lake_config, read_only=True)):
        assert lake.current_snapshot(reader) == before
        assert _rows(reader) == [(i,) for i in range(5)]
        assert lake.list_tables(reader) == [("clinic", "contacts")]
    assert lake.data_files(con, "clinic", "contacts") == files_before
    # The connection is usable again afterwards.
    assert lake.publish(con, "clinic", "contacts", "SELECT 42 AS x") == before + 1


def test_append_creates_then_adds_by_name(lake_config: LakeConfig) -> None:
    con = lake.connect(lake_config)
    lake.publish(con, "clinic", "contacts", "SELECT 1 AS a, 'x' AS b", mode="append")
    snap = lake.publish(con, "clinic", "contacts", "SELECT 'y' AS b, 2 AS a", mode="append")
    assert _rows(con) == [(1, "x"), (2, "y")]
    info = lake.list_snapshots(con)[-1]
    assert info.id == snap and info.info["rows"] == 1 and info.info["mode"] == "append"


def test_replace_may_change_the_schema(lake_config: LakeConfig) -> None:
    con = lake.connect(lake_config)
    old = lake.publish(con, "clinic", "contacts", "SELECT 1 AS a")
    lake.publish(con, "clinic", "contacts", "SELECT 'z' AS b, 2.5 AS c")
    assert _rows(con) == [("z", 2.5)]
    assert _rows(lake.connect(lake_config, snapshot=old)) == [(1,)]


def test_publish_from_attached_staging_file(lake_config: LakeConfig, tmp_path: Path) -> None:
    staging = tmp_path / "staging.duckdb"
    with lake.duckdb_connect(staging) as s:
        s.execute("CREATE TABLE contacts AS SELECT range AS id, range * 2 AS x FROM range(100)")
    con = lake.connect(lake_config)
    con.execute(f"ATTACH '{staging}' AS staging (READ_ONLY)")
    snap = lake.publish(
        con,
        "clinic",
        "contacts",
        "staging.main.contacts",
        commit_message="pipeline run 7",
        author="dagster",
        extra_info={"run_id": "run-7"},
    )
    assert lake.table_row_counts(con) == {"clinic.contacts": 100}
    made = lake.list_snapshots(con)[-1]
    assert (made.id, made.author, made.commit_message) == (snap, "dagster", "pipeline run 7")
    assert made.info["run_id"] == "run-7" and made.info["rows"] == 100


def test_publish_a_relation(lake_config: LakeConfig) -> None:
    con = lake.connect(lake_config)
    frame = pd.DataFrame({"id": [1, 2, 3], "code": ["DI10", "DE11", "DJ45"]})
    lake.publish(con, "clinic", "diagnoses", con.from_df(frame))
    more = con.sql("SELECT 4 AS id, 'DI21' AS code")
    lake.publish(con, "clinic", "diagnoses", more, mode="append")
    assert _rows(con, "lake.clinic.diagnoses") == [
        (1, "DI10"),
        (2, "DE11"),
        (3, "DJ45"),
        (4, "DI21"),
    ]
    # The helper view is gone again.
    assert con.execute(
        "SELECT count(*) FROM duckdb_views() WHERE view_name LIKE '__regionlab_publish_%'"
    ).fetchone() == (0,)


@pytest.mark.parametrize("domain,product", [("Clinic", "x"), ("clinic", "drop table"), ("1a", "b")])
def test_bad_names_are_user_errors(lake_config: LakeConfig, domain: str, product: str) -> None:
    con = lake.connect(lake_config)
    with pytest.raises(UserError, match="name"):
        lake.publish(con, domain, product, "SELECT 1 AS x")


def test_table_name_is_quoted() -> None:
    assert lake.table_name("clinic", "contacts") == '"lake"."clinic"."contacts"'


def test_files_of_a_failed_publish_are_found_as_orphans(lake_config: LakeConfig) -> None:
    """A publish that dies after writing Parquet leaves a file no snapshot knows about;
    ``cleanup_files(orphans=True)`` is what erasure uses to remove it."""
    con = lake.connect(lake_config)
    lake.publish(con, "clinic", "contacts", "SELECT 1 AS x")
    kept = lake.data_files(con, "clinic", "contacts")
    n = 200_000
    late_failure = f"SELECT CASE WHEN range < {n - 1} THEN range ELSE error('late') END AS x "
    with pytest.raises(duckdb.Error, match="late"):
        lake.publish(con, "clinic", "contacts", late_failure + f"FROM range({n})", mode="append")
    on_disk = set(Path(lake_config.data_path).rglob("*.parquet"))
    orphans = on_disk - set(kept)
    assert orphans, "expected the failed publish to leave a partial file behind"

    assert set(lake.cleanup_files(con, orphans=True)) == orphans
    assert set(Path(lake_config.data_path).rglob("*.parquet")) == set(kept)
    assert _rows(con) == [(1,)]


def test_also_statements_commit_with_the_product(lake_config: LakeConfig) -> None:
    con = lake.connect(lake_config)
    con.execute("CREATE SCHEMA lake._regionlab")
    con.execute("CREATE TABLE lake._regionlab.load_log (product VARCHAR, extract VARCHAR)")
    log_row = ("INSERT INTO lake._regionlab.load_log VALUES (?, ?)", ["clinic.contacts", "e1"])
    snap = lake.publish(con, "clinic", "contacts", "SELECT 1 AS x", also=[log_row])
    log = "SELECT * FROM lake._regionlab.load_log"
    assert con.execute(log).fetchall() == [("clinic.contacts", "e1")]
    # A failing product write takes the bookkeeping rows down with it.
    with pytest.raises(duckdb.Error, match="boom"):
        lake.publish(con, "clinic", "contacts", "SELECT error('boom') AS x", also=[log_row])
    assert con.execute(log).fetchall() == [("clinic.contacts", "e1")]
    assert lake.current_snapshot(con) == snap
    assert lake.table_row_counts(con) == {"_regionlab.load_log": 1, "clinic.contacts": 1}
