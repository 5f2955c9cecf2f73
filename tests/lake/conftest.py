"""Fixtures for the lake tests: an embedded lake per test and a throwaway PostgreSQL database."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from regionlab.lake import LakeConfig

REPO = Path(__file__).resolve().parents[2]
WORKER = Path(__file__).with_name("_lake_worker.py")
PG_ADMIN = "dbname=postgres host=127.0.0.1 port=5432 user=postgres"


@pytest.fixture
def lake_config(var_dir: Path) -> LakeConfig:
    """The embedded lake under the test's own ``var/``."""
    return LakeConfig.embedded()


def worker_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """Environment for a worker process: this test's ``REGIONLAB_*`` settings."""
    env = dict(os.environ)
    env.update(extra or {})
    return env


def start_worker(*args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, str(WORKER), *args],
        cwd=REPO,
        env=worker_env(env),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.fixture
def pg_database() -> Iterator[str]:
    """A fresh PostgreSQL database (libpq string), dropped after the test."""
    import psycopg

    name = f"regionlab_test_{uuid.uuid4().hex}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"dbname={name} host=127.0.0.1 port=5432 user=postgres"
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
