"""Choosing the catalogue from the environment."""

from __future__ import annotations

from pathlib import Path

import pytest

from regionlab.errors import UserError
from regionlab.lake import LakeConfig


def test_default_is_embedded_sqlite_under_var(var_dir: Path) -> None:
    config = LakeConfig.from_env({})
    assert config.catalog_type == "sqlite"
    assert Path(config.catalog) == var_dir / "lake" / "catalog.sqlite"
    assert Path(config.data_path) == var_dir / "lake" / "data"
    assert config.attach_uri == f"ducklake:sqlite:{var_dir / 'lake' / 'catalog.sqlite'}"
    assert config.alias == "lake"


def test_postgres_catalogue_and_data_from_env(var_dir: Path) -> None:
    config = LakeConfig.from_env(
        {
            "REGIONLAB_LAKE_CATALOG": "postgres:dbname=regionlab host=127.0.0.1 user=postgres",
            "REGIONLAB_LAKE_DATA": "/srv/lake/data",
        }
    )
    assert config.catalog_type == "postgres"
    assert config.attach_uri == "ducklake:postgres:dbname=regionlab host=127.0.0.1 user=postgres"
    assert config.data_dir == "/srv/lake/data/"
    sql = config.attach_sql(read_only=True, snapshot=7)
    assert "READ_ONLY" in sql and "SNAPSHOT_VERSION 7" in sql and "META_JOURNAL_MODE" not in sql


def test_sqlite_path_from_env(var_dir: Path, tmp_path: Path) -> None:
    config = LakeConfig.from_env({"REGIONLAB_LAKE_CATALOG": f"sqlite:{tmp_path}/c.sqlite"})
    assert config.catalog == f"{tmp_path}/c.sqlite"
    assert "META_JOURNAL_MODE 'WAL'" in config.attach_sql()


def test_password_is_masked_in_descriptions(var_dir: Path) -> None:
    config = LakeConfig.from_env(
        {"REGIONLAB_LAKE_CATALOG": "postgres:dbname=x user=u password=s3cret host=h"}
    )
    assert "s3cret" not in config.describe()
    assert "s3cret" not in repr(config)
    assert "s3cret" not in str(config)


def test_quotes_in_paths_cannot_break_the_attach_statement(var_dir: Path) -> None:
    config = LakeConfig(catalog_type="sqlite", catalog="/tmp/it's.sqlite", data_path="/tmp/d")
    assert "'ducklake:sqlite:/tmp/it''s.sqlite'" in config.attach_sql()


@pytest.mark.parametrize("value", ["mysql:db", "sqlite:", "postgres", "duckdb:/x.db"])
def test_bad_catalogue_value_is_a_user_error(var_dir: Path, value: str) -> None:
    with pytest.raises(UserError, match="REGIONLAB_LAKE_CATALOG"):
        LakeConfig.from_env({"REGIONLAB_LAKE_CATALOG": value})


def test_a_moved_var_names_both_data_folders(
    var_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """DuckLake records the data folder's absolute path: a moved var/ must say so, not crash."""
    from regionlab import lake

    con = lake.connect(LakeConfig.embedded())
    con.execute("CREATE TABLE lake.main.t AS SELECT 1 AS x")
    con.close()
    moved = tmp_path / "moved"
    var_dir.rename(moved)
    monkeypatch.setenv("REGIONLAB_VAR", str(moved))
    with pytest.raises(UserError) as caught:
        lake.connect(LakeConfig.embedded(), read_only=True)
    message = str(caught.value)
    assert f"records its data folder as {var_dir / 'lake' / 'data'}" in message
    assert f"this configuration uses {moved / 'lake' / 'data'}" in message
    assert "REGIONLAB_LAKE_DATA=" in message
