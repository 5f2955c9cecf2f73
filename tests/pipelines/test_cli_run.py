"""`regionlab run` as a user runs it: a real process, real files, real kills."""

from __future__ import annotations

import dataclasses
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import polars as pl
import pytest

from regionlab import lake
from regionlab.settings import Settings
from regionlab.spec import load_domains
from tests.leakscan import parquet_text, register_identifiers, scan_text

CLI = [sys.executable, "-m", "regionlab"]


def _run(
    *args: str, env: dict[str, str] | None = None, timeout: int = 600
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
    )


def test_run_without_key_is_one_clear_message(platform: Settings) -> None:
    env = {**os.environ, "REGIONLAB_KEY_FILE": str(platform.var_dir / "missing.key")}
    result = subprocess.run(
        [*CLI, "run", "--product", "persons"], capture_output=True, text=True, env=env, timeout=300
    )
    assert result.returncode == 1
    assert "Traceback" not in result.stderr + result.stdout
    assert "key" in (result.stderr + result.stdout).lower()


def test_unknown_product_is_one_clear_message(platform: Settings) -> None:
    result = _run("run", "--product", "nosuchproduct")
    assert result.returncode == 1
    assert "unknown product 'nosuchproduct'" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.slow
def test_run_killed_before_publish_leaves_previous_snapshot(platform: Settings) -> None:
    first = _run("run", "--domain", "laboratory", "--no-catalog")
    assert first.returncode == 0, first.stdout + first.stderr
    con = lake.connect(read_only=True)
    snapshot, rows = lake.current_snapshot(con), lake.table_row_counts(con)
    con.close()

    # A new delivery arrives; the run stages and audits it, then dies before publishing.
    folder = platform.sources_dir / "labka" / "lab_results"
    newest = sorted(folder.glob("*.csv"))[-1]
    (folder / "lab_results_2026-11-20.csv").write_text(
        newest.read_text(encoding="utf-8").replace("S0", "T0"), encoding="utf-8"
    )
    marker = platform.var_dir / "paused"
    proc = subprocess.Popen(
        [*CLI, "run", "--domain", "laboratory", "--no-catalog"],
        env={**os.environ, "REGIONLAB_FAULT_PAUSE_BEFORE_PUBLISH": str(marker)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.time() + 300
    while not marker.exists() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.2)
    assert marker.exists(), "the run never reached the publish step"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()

    con = lake.connect(read_only=True)
    assert lake.current_snapshot(con) == snapshot
    assert lake.table_row_counts(con) == rows
    con.close()

    again = _run("run", "--domain", "laboratory", "--no-catalog")
    assert again.returncode == 0, again.stdout + again.stderr
    con = lake.connect(read_only=True)
    after = lake.table_row_counts(con)
    con.close()
    assert after["laboratory.lab_results"] > rows["laboratory.lab_results"]

    idle = _run("run", "--domain", "laboratory", "--no-catalog")
    assert idle.returncode == 0, idle.stdout + idle.stderr
    assert "nothing new" in idle.stdout
    assert "Traceback" not in idle.stderr and "Blocking asset check" not in idle.stderr


@pytest.mark.slow
def test_full_run_leaks_no_identifier_into_lake_files_or_event_log(platform: Settings) -> None:
    result = _run("run")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "published" in result.stdout

    ids = register_identifiers(platform.sources_dir / "cpr" / "persons" / "persons_2026-11-01.csv")
    assert ids.cprs and ids.phones and ids.full_names
    # Every data file of every product about persons. The initiatives register names
    # staff (owners), who may share a name with a patient, so it is scanned for CPR
    # numbers and phones only.
    con = lake.connect(read_only=True)
    files = {p.ref: lake.data_files(con, p.domain, p.id) for p in load_domains().batch_order()}
    con.close()
    assert all(files.values())
    person_files = [f for ref, fs in files.items() if ref != "initiatives/initiatives" for f in fs]
    blob = parquet_text(person_files)
    assert len(blob) > 100_000
    assert scan_text(blob, ids).total() == 0
    staff = scan_text(parquet_text(files["initiatives/initiatives"]), ids)
    assert staff["cpr"] == staff["phone"] == 0

    # The Dagster event log (SQLite under DAGSTER_HOME), read as text.
    logs = "\n".join(
        p.read_bytes().decode("utf-8", "replace")
        for p in Path(os.environ["DAGSTER_HOME"]).rglob("*")
        if p.is_file()
    )
    assert "population/persons" in logs or "population__persons" in logs
    assert scan_text(logs, ids).total() == 0

    # The catalogue the run emitted (DataHub proposals) holds no identifier either.
    # Staff named as initiative owners are catalogued on purpose; patients never are.
    metadata = (platform.catalog_dir / "metadata.json").read_text(encoding="utf-8")
    assert "urn:li:dataset" in metadata
    owners = set(pl.read_csv(next((platform.sources_dir / "initiativer").rglob("*.csv")))["owner"])
    namesakes = {n for n in ids.full_names if any(n in owner for owner in owners)}
    patients_only = dataclasses.replace(ids, full_names=ids.full_names - namesakes)
    assert scan_text(metadata, patients_only).total() == 0


def test_a_skipped_product_says_whether_an_upstream_failed_or_nothing_changed() -> None:
    from types import SimpleNamespace

    from cli.run_cmd import _Missing, _name_skips

    failed = SimpleNamespace(product="population/persons", status="audit_failed")
    skipped = _Missing("research/monthly_activity", None)
    _name_skips([failed, skipped])
    assert skipped.reason == "not run: upstream population/persons failed; fix it and run again"
    quiet = _Missing("research/monthly_activity", None)
    _name_skips([SimpleNamespace(product="population/persons", status="up_to_date"), quiet])
    assert quiet.reason == "not run: no upstream product changed"
