"""Profiles: the documented file, environment overrides, no secrets, and what apply() writes."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from pipelines import launch
from regionlab import profiles
from regionlab.errors import UserError
from regionlab.lake import LakeConfig

DEPLOY = Path(__file__).resolve().parents[2] / "pipelines" / "deploy"


def test_default_profile_is_embedded_and_keeps_the_embedded_lake(var_dir: Path) -> None:
    env: dict[str, str] = {}
    changes = launch.apply(environ=env)
    assert changes["REGIONLAB_PROFILE"] == "embedded"
    assert "REGIONLAB_LAKE_CATALOG" not in env
    assert LakeConfig.from_env(env).catalog_type == "sqlite"
    # An environment variable overrides the file, for the lake's own variables too.
    other = {"REGIONLAB_LAKE_CATALOG": "postgres:dbname=elsewhere host=db"}
    launch.apply(environ=other)
    assert LakeConfig.from_env(other).catalog == "dbname=elsewhere host=db"
    assert Path(env["DAGSTER_HOME"]) == var_dir / "dagster"
    config = yaml.safe_load((var_dir / "dagster" / "dagster.yaml").read_text())
    assert config == {"telemetry": {"enabled": False}}
    assert not (var_dir / "dagster" / "celery.yaml").exists()


def test_multiuser_profile_sets_lake_dagster_celery_and_label_studio(var_dir: Path) -> None:
    env = {"REGIONLAB_PROFILE": "multiuser", "REGIONLAB_RUNS_PER_DOMAIN": "2"}
    launch.apply(environ=env)
    lake = LakeConfig.from_env(env)
    assert lake.catalog_type == "postgres" and "dbname=regionlab_lake" in lake.catalog
    home = Path(env["DAGSTER_HOME"])
    assert home == var_dir / "dagster-multiuser"
    config = yaml.safe_load((home / "dagster.yaml").read_text())
    url = config["storage"]["postgres"]["postgres_url"]
    assert url == "postgresql+psycopg2://postgres@127.0.0.1:5432/regionlab_dagster"
    coordinator = config["run_coordinator"]
    assert coordinator["class"] == "QueuedRunCoordinator"
    [limit] = coordinator["config"]["tag_concurrency_limits"]
    assert limit == {
        "key": "regionlab/domain",
        "value": {"applyLimitPerUniqueValue": True},
        "limit": 2,  # the environment override won over the file's 1
    }
    celery = yaml.safe_load((home / "celery.yaml").read_text())["execution"]["config"]
    assert celery["broker"].startswith("pyamqp://")
    assert celery["config_source"]["task_acks_late"] is True
    module = (home / "celery" / "dagster_celery_config.py").read_text()
    assert "task_reject_on_worker_lost = True" in module
    assert "task_default_queue = 'regionlab'" in module
    assert env["DJANGO_DB"] == "default" and env["POSTGRE_NAME"] == "label_studio"


def test_generated_and_template_instance_configs_are_valid_for_dagster(
    var_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dagster._core.instance.config import dagster_instance_config

    env = {"REGIONLAB_PROFILE": "multiuser"}
    launch.apply(environ=env)
    config, _ = dagster_instance_config(env["DAGSTER_HOME"])
    assert config["run_coordinator"]["config"]["max_concurrent_runs"] == 8
    monkeypatch.setenv("REGIONLAB_DAGSTER_PG_URL", "postgresql+psycopg2://u@h:5432/d")
    monkeypatch.setenv("REGIONLAB_MAX_CONCURRENT_RUNS", "4")
    template, _ = dagster_instance_config(str(DEPLOY))
    assert template["run_coordinator"]["class"] == "QueuedRunCoordinator"


def test_password_in_the_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "regionlab.toml"
    path.write_text(
        '[profiles.multiuser]\nlake_catalog = "postgres:dbname=x user=u password=hunter2"\n'
    )
    with pytest.raises(UserError, match="holds a password") as err:
        profiles.load_profile("multiuser", env={}, path=path)
    assert "hunter2" not in str(err.value)


def test_unknown_profile_and_bad_value_name_the_fix(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="unknown profile 'cluster'.*embedded, multiuser"):
        profiles.load_profile("cluster", env={})
    with pytest.raises(UserError, match="executor"):
        profiles.load_profile("embedded", env={"REGIONLAB_EXECUTOR": "threads"})


def test_libpq_to_url() -> None:
    assert (
        profiles.libpq_to_url("dbname=d host=pg.svc port=6432 user=dagster sslmode=require")
        == "postgresql+psycopg2://dagster@pg.svc:6432/d?sslmode=require"
    )
    with pytest.raises(UserError, match="PGPASSFILE"):
        profiles.libpq_to_url("dbname=d password=x")
