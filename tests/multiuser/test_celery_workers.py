"""The demo pipelines in the multi-user profile on two Celery workers, against the embedded run.

One scenario, shared by the tests below (it is the expensive part):

1. the embedded profile runs every product in-process (SQLite lake) — the reference;
2. multi-user: worker ``doomed`` takes the medication run and is killed (process group,
   SIGKILL) while it holds the step between audit and publish; worker ``w1`` gets the
   redelivered step and publishes it;
3. multi-user: ``w1`` and ``w2`` run every product while a researcher thread reads the
   lake read-only.

Fresh PostgreSQL databases (lake catalogue, Dagster instance) and a private Celery queue
are made for it and dropped afterwards; every worker is killed at the end, also on failure.
"""

from __future__ import annotations

import datetime as dt
import importlib
import os
import sys
import threading
import time
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from bench.cluster import Cluster, cluster
from regionlab import lake
from regionlab.privacy.keys import init_key
from regionlab.synth.generate import generate

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

PERSONS = 3000  # the smallest region whose every product passes its k-anonymity audit
KILLED = "medication/prescriptions"


def content(con: Any) -> dict[str, tuple[int, str]]:
    """Row count and an order-independent content hash of every product table."""
    out = {}
    for name in lake.table_row_counts(con):
        if name.startswith("_regionlab."):
            continue
        row = con.execute(
            "SELECT count(*), md5(string_agg(CAST(t AS VARCHAR), '|' "
            f"ORDER BY CAST(t AS VARCHAR))) FROM lake.{name} t"
        ).fetchone()
        out[name] = (row[0], row[1])
    return out


@dataclass
class Reader:
    """A researcher reading the lake over and over with read-only connections."""

    reads: int = 0
    errors: list[str] = field(default_factory=list)
    snapshots: list[int] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        while not self.stop.is_set():
            try:
                con = lake.connect(read_only=True)
                try:
                    self.snapshots.append(lake.current_snapshot(con))
                    counts = lake.table_row_counts(con)
                    for name in counts:
                        con.execute(f"SELECT count(*) FROM lake.{name}").fetchone()
                    self.reads += 1
                finally:
                    con.close()
            except Exception as exc:  # noqa: BLE001 - every failure is a finding
                self.errors.append(f"{type(exc).__name__}: {exc}"[:300])
            time.sleep(0.3)


@dataclass
class Scenario:
    embedded: dict[str, tuple[int, str]]
    after_kill: dict[str, tuple[int, str]]
    kill_snapshots: list[Any]
    kill_events: list[Any]
    kill_success: bool
    multiuser: dict[str, tuple[int, str]]
    run_success: bool
    run_events: list[Any]
    snapshots: list[Any]
    reader: Reader
    cluster: Cluster
    failures: list[str]


def _set_env(env: dict[str, str | None]) -> None:
    for key, value in env.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


def _events(instance: Any, run_id: str) -> list[Any]:
    return list(instance.all_logs(run_id))


def _wait_for(path: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{path} did not appear in {timeout}s")
        time.sleep(0.5)


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Scenario]:
    var = tmp_path_factory.mktemp("multiuser") / "var"
    var.mkdir()
    key_file = var / "secrets" / "pseudonym.key"
    init_key(key_file)
    generate(
        out=var / "sources",
        persons=PERSONS,
        seed=7,
        defect_rate=0.02,
        as_of=dt.date(2026, 11, 1),
        deliveries=2,
    )
    saved = dict(os.environ)
    try:
        _set_env(
            {
                "REGIONLAB_VAR": str(var),
                "REGIONLAB_KEY_FILE": str(key_file),
                "REGIONLAB_KEY": None,
                "REGIONLAB_PROFILE": None,
                "REGIONLAB_LAKE_CATALOG": None,
                "REGIONLAB_LAKE_DATA": None,
                "DAGSTER_HOME": None,
                "PYTHONWARNINGS": "ignore::UserWarning",
            }
        )
        # 1. The reference: the embedded profile, in-process.
        from cli.run_cmd import execute
        from pipelines import launch
        from regionlab.spec import load_domains

        launch.apply("embedded")
        refs = [p.ref for p in load_domains().batch_order()]
        runs = execute(refs, full_refresh=True, quiet=True)
        assert all(r.status == "published" for r in runs), [(r.product, r.status) for r in runs]
        con = lake.connect(read_only=True)
        embedded = content(con)
        con.close()

        with cluster(var) as c:
            c.apply(os.environ)
            import dagster as dg

            if "pipelines.definitions_multiuser" in sys.modules:
                importlib.reload(sys.modules["pipelines.definitions_multiuser"])
            from pipelines.definitions_multiuser import run_products

            instance = dg.DagsterInstance.get()
            failures: list[str] = []
            try:
                # 2. A worker dies holding the step between audit and publish.
                marker = var / "doomed.pid"
                c.start_worker("doomed", REGIONLAB_FAULT_PAUSE_BEFORE_PUBLISH=str(marker))
                c.wait_ready("doomed")
                result: dict[str, Any] = {}
                runner = threading.Thread(
                    target=lambda: result.update(
                        r=run_products([KILLED], job="domain_medication", instance=instance)
                    ),
                    daemon=True,
                )
                runner.start()
                _wait_for(marker, 300)
                c.start_worker("w1")
                c.wait_ready("w1")
                c.kill_worker("doomed")
                runner.join(600)
                assert not runner.is_alive(), "the run did not finish after the worker died"
                killed_run = result["r"]
                con = lake.connect(read_only=True)
                after_kill = content(con)
                kill_snapshots = lake.list_snapshots(con)
                con.close()
                kill_events = _events(instance, killed_run.run_id)

                # 3. Two workers, every product, a researcher reading throughout.
                c.start_worker("w2")
                c.wait_ready("w2")
                reader = Reader()
                reading = threading.Thread(target=reader.run, daemon=True)
                reading.start()
                full = run_products(full_refresh=True, instance=instance)
                reader.stop.set()
                reading.join(60)
                con = lake.connect(read_only=True)
                multiuser = content(con)
                snapshots = lake.list_snapshots(con)
                con.close()
                run_events = _events(instance, full.run_id)
                failures = [
                    e.dagster_event.step_key
                    for e in run_events
                    if e.dagster_event and e.dagster_event.is_step_failure
                ]
            finally:
                c.stop_workers()
                instance.dispose()
            yield Scenario(
                embedded=embedded,
                after_kill=after_kill,
                kill_snapshots=kill_snapshots,
                kill_events=kill_events,
                kill_success=killed_run.success,
                multiuser=multiuser,
                run_success=full.success,
                run_events=run_events,
                snapshots=snapshots,
                reader=reader,
                cluster=c,
                failures=failures,
            )
    finally:
        os.environ.clear()
        os.environ.update(saved)


def _step_windows(events: list[Any]) -> dict[str, tuple[float, float]]:
    start: dict[str, float] = {}
    end: dict[str, float] = {}
    for e in events:
        if not e.dagster_event or not e.step_key:
            continue
        kind = e.dagster_event.event_type_value
        if kind == "STEP_START":
            start[e.step_key] = e.timestamp
        elif kind == "STEP_SUCCESS":
            end[e.step_key] = e.timestamp
    return {k: (start[k], end[k]) for k in end if k in start}


def _workers_by_step(events: list[Any]) -> dict[str, list[str]]:
    """Which Celery worker executed each step (from the executor's engine events)."""
    out: dict[str, list[str]] = defaultdict(list)
    for e in events:
        if not e.dagster_event or not e.step_key:
            continue
        data = e.dagster_event.event_specific_data
        metadata = getattr(data, "metadata", None) or {}
        if "Celery worker" in metadata:
            out[e.step_key].append(str(metadata["Celery worker"].value))
    return out


def test_every_product_published_with_the_embedded_results(scenario: Scenario) -> None:
    assert scenario.run_success, scenario.failures
    assert len(scenario.embedded) == 12
    assert all(rows > 0 for rows, _ in scenario.multiuser.values())
    # Same tables, same row counts, same content hashes as the embedded profile.
    assert scenario.multiuser == scenario.embedded


def test_steps_ran_on_both_workers_and_domains_published_concurrently(scenario: Scenario) -> None:
    workers = _workers_by_step(scenario.run_events)
    assert len(workers) == 12
    used = {w.split("@")[0] for names in workers.values() for w in names}
    assert used == {"w1", "w2"}
    windows = _step_windows(scenario.run_events)
    worker_of = {step: names[-1] for step, names in workers.items()}
    # A publish is the last thing a step does: snapshot time ∈ the other step's window means
    # one domain committed into the lake while another domain's step was in flight on the
    # other worker.
    publish_time = {}
    for snap in scenario.snapshots:
        info = snap.info
        if info.get("product") and info.get("run_id"):
            publish_time[f"{info['domain']}__{info['product']}"] = snap.time.timestamp()
    overlapping = [
        (a, b)
        for a, (a0, a1) in windows.items()
        for b, (b0, b1) in windows.items()
        if a.split("__")[0] != b.split("__")[0]
        and worker_of[a] != worker_of[b]
        and b in publish_time
        and a0 < publish_time[b] < a1
    ]
    assert overlapping, f"no concurrent publishes of two domains: {windows}"


def test_killed_worker_step_is_redelivered_and_published_once(scenario: Scenario) -> None:
    assert scenario.kill_success
    step = KILLED.replace("/", "__")
    workers = _workers_by_step(scenario.kill_events)[step]
    assert [w.split("@")[0] for w in workers] == ["doomed", "w1"]
    starts = [
        e
        for e in scenario.kill_events
        if e.dagster_event and e.dagster_event.event_type_value == "STEP_START"
    ]
    assert len(starts) == 2
    domain, product = KILLED.split("/")
    publishes = [
        s
        for s in scenario.kill_snapshots
        if s.info.get("domain") == domain and s.info.get("product") == product
    ]
    assert len(publishes) == 1, [s.commit_message for s in scenario.kill_snapshots]
    # Exactly once: the same rows as the embedded run, not twice as many.
    name = f"{domain}.{product}"
    assert scenario.after_kill == {name: scenario.embedded[name]}


def test_researchers_read_during_the_runs_without_errors(scenario: Scenario) -> None:
    reader = scenario.reader
    assert reader.errors == []
    assert reader.reads >= 5
    # Every read saw a committed snapshot, and the lake only moved forward under them.
    assert reader.snapshots == sorted(reader.snapshots)
    assert reader.snapshots[-1] > reader.snapshots[0]


def test_multiuser_state_lives_in_postgres(scenario: Scenario) -> None:
    import psycopg

    c = scenario.cluster
    with psycopg.connect(f"dbname={c.lake_db} host=127.0.0.1 user=postgres") as pg:
        assert pg.execute("SELECT count(*) FROM ducklake_table").fetchone()[0] >= 12
    with psycopg.connect(f"dbname={c.dagster_db} host=127.0.0.1 user=postgres") as pg:
        assert pg.execute("SELECT count(*) FROM runs").fetchone()[0] == 2
    assert not list((c.var_dir / "lake-multiuser").rglob("*.sqlite"))
