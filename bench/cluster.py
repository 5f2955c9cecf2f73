"""A throwaway multi-user platform for tests and the benchmark: PostgreSQL databases for the
lake catalogue and the Dagster instance, a private Celery queue, and worker processes.

Everything it starts it also ends: workers run in their own process groups and are
killed as groups (a worker's pool children die with it), the databases are dropped
with FORCE and the queue is deleted from the broker.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import psycopg

from pipelines import launch
from pipelines.celery_executor import worker_command, worker_env
from regionlab import profiles

PG_ADMIN = "dbname=postgres host=127.0.0.1 port=5432 user=postgres"
REPO = Path(__file__).resolve().parents[2]


@dataclass
class Cluster:
    var_dir: Path
    tag: str = field(default_factory=lambda: uuid.uuid4().hex[:12])
    workers: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)

    @property
    def lake_db(self) -> str:
        return f"regionlab_test_{self.tag}_lake"

    @property
    def dagster_db(self) -> str:
        return f"regionlab_test_{self.tag}_dagster"

    @property
    def dagster_home(self) -> Path:
        return self.var_dir / "dagster-multiuser"

    @property
    def queue(self) -> str:
        return f"regionlab_test_{self.tag}"

    def overrides(self) -> dict[str, str]:
        """The REGIONLAB_* overrides that point the multiuser profile at this cluster."""
        return {
            "REGIONLAB_LAKE_CATALOG": f"postgres:dbname={self.lake_db} host=127.0.0.1 "
            "port=5432 user=postgres",
            "REGIONLAB_LAKE_DATA": str(self.var_dir / "lake-multiuser"),
            "REGIONLAB_DAGSTER_POSTGRES": f"dbname={self.dagster_db} host=127.0.0.1 "
            "port=5432 user=postgres",
            "REGIONLAB_CELERY_QUEUE": self.queue,
        }

    def create(self) -> None:
        with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
            for db in (self.lake_db, self.dagster_db):
                admin.execute(f'CREATE DATABASE "{db}"')

    def apply(self, environ: dict[str, str] | os._Environ[str]) -> dict[str, str]:
        """Apply the multiuser profile with this cluster's overrides to ``environ``."""
        environ.update(self.overrides())
        self.env = launch.apply("multiuser", environ=environ, dagster_home=self.dagster_home)
        return self.env

    def profile(self) -> profiles.Profile:
        return profiles.load_profile("multiuser", env={**os.environ, **self.overrides()})

    def log(self, name: str) -> Path:
        return self.var_dir / f"worker-{name}.log"

    def start_worker(self, name: str, **extra_env: str) -> subprocess.Popen[bytes]:
        env = worker_env(self.dagster_home, {**os.environ, **self.overrides(), **self.env})
        env.update(extra_env)
        with open(self.log(name), "wb") as out:
            proc = subprocess.Popen(
                worker_command(self.profile(), name),
                cwd=REPO,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.workers[name] = proc
        return proc

    def wait_ready(self, name: str, timeout: float = 180) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            text = self.log(name).read_text(errors="replace")
            if " ready." in text:
                return
            if self.workers[name].poll() is not None:
                raise RuntimeError(f"worker {name} exited:\n{text[-3000:]}")
            time.sleep(0.5)
        raise TimeoutError(f"worker {name} not ready after {timeout}s")

    def kill_worker(self, name: str) -> None:
        """SIGKILL the worker's whole process group, as when its node dies."""
        proc = self.workers.pop(name)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)

    def stop_workers(self) -> None:
        for name in list(self.workers):
            self.kill_worker(name)

    def destroy(self) -> None:
        self.stop_workers()
        with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
            for db in (self.lake_db, self.dagster_db):
                admin.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
        with contextlib.suppress(Exception):
            import kombu

            with kombu.Connection(self.profile().celery_broker) as conn:
                conn.default_channel.queue_delete(self.queue)


@contextlib.contextmanager
def cluster(var_dir: Path) -> Iterator[Cluster]:
    c = Cluster(var_dir)
    c.create()
    try:
        yield c
    finally:
        c.destroy()
