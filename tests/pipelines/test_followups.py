"""`regionlab run --defer`: the delivery is published now, the follow-up is never lost.

The follow-up (derived recomputes, catalogue emission) is queued before the publish and
removed only after it was done; a crash at any point leaves it for the next drain or run.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

from regionlab import lake
from regionlab.settings import Settings, get_settings
from regionlab.wap import followups

CLI = [sys.executable, "-m", "regionlab"]
QUIET = {"REGIONLAB_FOLLOWUPS_BACKGROUND": "0"}  # no detached drain: the test drives it


def _run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, *args],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, **(env or {})},
    )


def _publishes() -> list[str]:
    """The product of every publish snapshot, oldest first."""
    con = lake.connect(read_only=True)
    try:
        return [s.published_ref for s in lake.list_snapshots(con) if s.published_ref]
    finally:
        con.close()


def test_a_held_marker_is_invisible_until_released_and_a_drained_one_is_gone(
    keyed_var: Settings,
) -> None:
    settings = get_settings()
    assert not followups.pending(settings)
    held = followups.queue(settings, ["research/readmissions_30d"], True, "test")
    # The run that queued it is still publishing: no drain may recompute yet.
    assert not followups.pending(settings) and followups.held(settings) == 1
    held.release()
    second = followups.queue(settings, ["research/t2d_cohort"], False, "test")
    second.release()
    todo = followups.pending(settings, ["research/t2d_cohort", "research/readmissions_30d"])
    assert todo.derived == ["research/t2d_cohort", "research/readmissions_30d"]
    assert todo.catalogue and len(todo.markers) == 2
    assert "readmissions_30d" in todo.describe() and "catalogue" in todo.describe()
    followups.clear(todo.markers[:1])
    assert len(followups.pending(settings).markers) == 1
    withdrawn = followups.queue(settings, ["x/y"], True, "test")
    withdrawn.withdraw()
    assert len(followups.pending(settings).markers) == 1


def test_a_marker_of_a_killed_run_becomes_pending(keyed_var: Settings) -> None:
    """The kernel releases a dead run's lock: its follow-up is not lost."""
    code = (
        "import time\n"
        "from regionlab.settings import get_settings\n"
        "from regionlab.wap import followups\n"
        "held = followups.queue(get_settings(), ['research/readmissions_30d'], True, 'test')\n"
        "print('queued', flush=True)\n"
        "time.sleep(600)\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "queued"
        settings = get_settings()
        assert not followups.pending(settings)
    finally:
        proc.kill()
        proc.wait()
    todo = followups.pending(settings)
    assert todo.derived == ["research/readmissions_30d"] and todo.catalogue


def _new_contacts(settings: Settings) -> Path:
    """A contacts delivery of new rows (new ids) after the latest one, moved in complete."""
    folder = settings.sources_dir / "lpr3" / "contacts"
    latest = sorted(folder.glob("contacts_*"))[-1]
    target = folder / f"contacts_2026-11-20{latest.suffix}"
    aside = settings.var_dir / target.name
    reader = "read_parquet" if latest.suffix == ".parquet" else "read_csv"
    fmt = "parquet" if latest.suffix == ".parquet" else "csv"
    duckdb.sql(
        f"COPY (SELECT * REPLACE ('F' || contact_id AS contact_id) FROM {reader}('{latest}'))"
        f" TO '{aside}' (FORMAT {fmt})"
    )
    aside.rename(target)
    return target


@pytest.mark.slow
def test_deferred_follow_up_survives_a_crash_and_the_next_run_does_it(platform: Settings) -> None:
    first = _run("run")
    assert first.returncode == 0, first.stdout + first.stderr
    metadata = platform.var_dir / "catalog" / "metadata.json"
    emitted = metadata.stat().st_mtime_ns
    before = _publishes()

    _new_contacts(platform)
    deferred = _run("run", "--defer", env=QUIET)
    assert deferred.returncode == 0, deferred.stdout + deferred.stderr
    assert "published now (audited, current): patient_administration/contacts" in deferred.stdout
    assert "research/readmissions_30d, catalogue" in deferred.stdout
    assert "research/readmissions_30d: queued" in deferred.stdout
    after = _publishes()
    # The delivery is current; its derived product and the catalogue are not redone yet.
    assert after[len(before) :] == ["patient_administration/contacts"]
    assert metadata.stat().st_mtime_ns == emitted
    markers = sorted(followups.folder(platform).glob("*.json"))
    assert len(markers) == 1
    assert json.loads(markers[0].read_text(encoding="utf-8"))["derived"] == [
        "research/readmissions_30d"
    ]

    # A drain dies between the recompute's audit and its publish: the marker stays.
    paused = platform.var_dir / "paused"
    proc = subprocess.Popen(
        [*CLI, "run", "--follow-ups"],
        env={**os.environ, "REGIONLAB_FAULT_PAUSE_BEFORE_PUBLISH": str(paused)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.time() + 300
    while not paused.exists() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.2)
    assert paused.exists(), "the follow-up never reached the publish step"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert sorted(followups.folder(platform).glob("*.json")) == markers
    assert _publishes() == after

    # The next run has nothing new of its own, and does the follow-up.
    nxt = _run("run")
    assert nxt.returncode == 0, nxt.stdout + nxt.stderr
    assert "follow-up: research/readmissions_30d, catalogue" in nxt.stdout
    assert _publishes()[len(after) :] == ["research/readmissions_30d"]
    assert metadata.stat().st_mtime_ns != emitted
    assert not list(followups.folder(platform).glob("*.json"))

    # Nothing queued any more: a drain says so and publishes nothing.
    again = _run("run", "--follow-ups")
    assert again.returncode == 0 and "follow-up: nothing queued" in again.stdout
    assert _publishes()[len(after) :] == ["research/readmissions_30d"]


@pytest.mark.slow
def test_a_deferred_run_with_nothing_new_queues_nothing(platform: Settings) -> None:
    assert _run("run", "--no-catalog").returncode == 0
    done = _run("run", "--defer", env=QUIET)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "nothing new" in done.stdout and "queued" not in done.stdout
    assert not list(followups.folder(platform).glob("*.json"))


@pytest.mark.slow
def test_the_watcher_publishes_a_delivery_then_does_its_follow_up(platform: Settings) -> None:
    assert _run("run", "--no-catalog").returncode == 0
    before = _publishes()
    proc = subprocess.Popen(
        [*CLI, "run", "--watch", "--interval", "0.5"],
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert proc.stdout is not None
    seen: list[str] = []
    try:
        seen.append(proc.stdout.readline())
        assert seen[-1].startswith("watching "), seen
        _new_contacts(platform)
        while "follow-up done" not in seen[-1]:
            line = proc.stdout.readline()
            assert line, "".join(seen)
            seen.append(line)
    finally:
        proc.terminate()  # SIGTERM stops it like Ctrl-C
        rest = proc.communicate(timeout=120)[0]
    out = "".join(seen)
    assert "published now (audited, current): patient_administration/contacts" in out
    assert out.index("published now") < out.index("follow-up: research/readmissions_30d")
    assert _publishes()[len(before) :] == [
        "patient_administration/contacts",
        "research/readmissions_30d",
    ]
    assert not list(followups.folder(platform).glob("*.json"))
    assert proc.returncode == 0 and "stopped watching" in rest


@pytest.mark.slow
def test_a_deferred_run_with_no_follow_up_work_leaves_no_marker(platform: Settings) -> None:
    """Only a source product selected and no catalogue: published, nothing queued."""
    done = _run("run", "--defer", "--no-catalog", "--product", "persons", env=QUIET)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "published now (audited, current): population/persons" in done.stdout
    assert "queued" not in done.stdout
    assert _publishes() == ["population/persons"]
    assert not list(followups.folder(platform).glob("*.json"))
