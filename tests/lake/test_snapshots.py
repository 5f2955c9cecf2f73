"""Snapshots: every write is a version, old versions stay readable until expired."""

from __future__ import annotations

from pathlib import Path

import pytest

from regionlab import lake
from regionlab.errors import UserError
from regionlab.lake import LakeConfig


def _sum(con, table: str = "lake.clinic.contacts") -> int:
    return con.execute(f"SELECT sum(x) FROM {table}").fetchone()[0]


def test_read_at_older_snapshot_sees_old_data(lake_config: LakeConfig) -> None:
    con = lake.connect(lake_config)
    first = lake.publish(con, "clinic", "contacts", "SELECT range AS x FROM range(10)")
    second = lake.publish(con, "clinic", "contacts", "SELECT range AS x FROM range(20)")
    assert second > first

    snaps = lake.list_snapshots(con)
    assert [s.id for s in snaps][-2:] == [first, second]
    assert lake.current_snapshot(con) == second
    made = {s.id: s for s in snaps}
    assert made[first].commit_message == "publish clinic.contacts (replace)"
    assert made[first].info == {
        "kind": "publish",
        "domain": "clinic",
        "product": "contacts",
        "mode": "replace",
        "rows": 10,
    }
    assert made[first].published_ref == "clinic/contacts"
    assert "clinic.contacts" in made[first].changes["tables_created"]

    old = lake.connect(lake_config, snapshot=first)
    assert lake.current_snapshot(old) == first
    assert lake.table_row_counts(old) == {"clinic.contacts": 10}
    assert _sum(old) == sum(range(10))
    assert lake.table_row_counts(con) == {"clinic.contacts": 20}
    assert _sum(lake.connect(lake_config, read_only=True)) == sum(range(20))


def test_pinned_reader_does_not_move_when_writer_publishes(lake_config: LakeConfig) -> None:
    con = lake.connect(lake_config)
    pinned_at = lake.publish(con, "clinic", "contacts", "SELECT 1 AS x")
    pinned = lake.connect(lake_config, snapshot=pinned_at)
    live = lake.connect(lake_config, read_only=True)
    lake.publish(con, "clinic", "contacts", "SELECT 5 AS x", mode="append")
    assert _sum(pinned) == 1
    assert _sum(live) == 6  # an unpinned reader sees the new snapshot in its next transaction
    with pytest.raises(Exception, match="read-only"):
        pinned.execute("INSERT INTO lake.clinic.contacts VALUES (2)")


def test_row_counts_cover_every_domain(lake_config: LakeConfig) -> None:
    con = lake.connect(lake_config)
    assert lake.table_row_counts(con) == {}
    lake.publish(con, "clinic", "contacts", "SELECT range AS x FROM range(3)")
    lake.publish(con, "lab", "results", "SELECT range AS x FROM range(7)")
    assert lake.table_row_counts(con) == {"clinic.contacts": 3, "lab.results": 7}
    assert lake.list_tables(con) == [("clinic", "contacts"), ("lab", "results")]


def test_data_files_per_snapshot(lake_config: LakeConfig) -> None:
    con = lake.connect(lake_config)
    first = lake.publish(con, "clinic", "contacts", "SELECT range AS x FROM range(10)")
    lake.publish(con, "clinic", "contacts", "SELECT 99 AS x", mode="append")
    now = lake.data_files(con, "clinic", "contacts")
    then = lake.data_files(con, "clinic", "contacts", snapshot=first)
    assert len(now) == 2 and len(then) == 1 and then[0] in now
    assert all(p.exists() and p.suffix == ".parquet" for p in now)
    assert all(Path(lake_config.data_path) in p.parents for p in now)
    # The files really are the product's rows.
    total = con.execute("SELECT sum(x) FROM read_parquet(?)", [[str(p) for p in now]]).fetchone()
    assert total[0] == sum(range(10)) + 99


def test_expire_and_cleanup_really_forget_old_versions(lake_config: LakeConfig) -> None:
    con = lake.connect(lake_config)
    first = lake.publish(con, "clinic", "contacts", "SELECT 'old' AS v, 1 AS x")
    old_files = lake.data_files(con, "clinic", "contacts")
    second = lake.publish(con, "clinic", "contacts", "SELECT 'new' AS v, 2 AS x")

    assert lake.expire_snapshots(con, dry_run=True) == list(range(0, second))
    assert first in [s.id for s in lake.list_snapshots(con)]  # dry run changed nothing

    expired = lake.expire_snapshots(con)
    assert first in expired and second not in expired
    assert [s.id for s in lake.list_snapshots(con)] == [second]
    with pytest.raises(UserError, match=f"no snapshot {first}"):
        lake.connect(lake_config, snapshot=first)

    deleted = lake.cleanup_files(con)
    assert set(old_files) <= set(deleted)
    assert not any(p.exists() for p in old_files)
    assert con.execute("SELECT v FROM lake.clinic.contacts").fetchall() == [("new",)]
    assert lake.cleanup_files(con) == []


def test_expire_by_version(lake_config: LakeConfig) -> None:
    con = lake.connect(lake_config)
    a = lake.publish(con, "clinic", "contacts", "SELECT 1 AS x")
    b = lake.publish(con, "clinic", "contacts", "SELECT 2 AS x")
    lake.publish(con, "clinic", "contacts", "SELECT 3 AS x")
    assert lake.expire_snapshots(con, versions=[a]) == [a]
    assert a not in [s.id for s in lake.list_snapshots(con)]
    assert _sum(lake.connect(lake_config, snapshot=b)) == 2


def test_read_only_connect_refuses_a_missing_lake(lake_config: LakeConfig) -> None:
    with pytest.raises(UserError, match="No lake catalogue"):
        lake.connect(lake_config, read_only=True)
    assert not Path(lake_config.catalog).exists()


def test_init_lake_creates_catalogue_and_data_folder(lake_config: LakeConfig) -> None:
    lake.init_lake(lake_config)
    assert Path(lake_config.catalog).is_file()
    assert Path(lake_config.data_path).is_dir()
    con = lake.connect(lake_config, read_only=True)
    assert lake.current_snapshot(con) == 0
    assert lake.list_snapshots(con)[0].id == 0


def test_wrong_data_folder_is_a_user_error(lake_config: LakeConfig, tmp_path: Path) -> None:
    lake.init_lake(lake_config)
    moved = lake_config.model_copy(update={"data_path": str(tmp_path / "elsewhere")})
    with pytest.raises(UserError, match="REGIONLAB_LAKE_DATA"):
        lake.connect(moved)
