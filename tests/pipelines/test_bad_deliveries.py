"""Bad deliveries (issue 16, and the poisoned deliveries of issue 15 finding 1) through the engine.

Each case of :mod:`tests.pipelines.bad_deliveries` is planted a day after a
good delivery that is already published. The test asserts the run's outcome,
the delivery-level verdict and its message (file and reason, never a value),
the reconciliation (records read = published + quarantined), the quarantined
line, and that the published snapshot is untouched when nothing was published.
"""

from __future__ import annotations

import datetime as dt
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from regionlab import lake
from regionlab.settings import Settings
from regionlab.spec import load_domains
from regionlab.synth.generate import generate
from regionlab.wap import quarantine_zone
from regionlab.wap.engine import run_source_product
from regionlab.wap.sources import find_extracts
from tests.leakscan import Identifiers, parquet_text, register_identifiers, scan_text
from tests.pipelines.bad_deliveries import CASES, PERSONS, Case, plant

REGISTRY = load_domains()
AS_OF = dt.date(2026, 11, 1)
PEOPLE = 300


@pytest.fixture(scope="module")
def clean_region(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One good delivery per product, without planted defects."""
    out = tmp_path_factory.mktemp("clean") / "sources"
    generate(out=out, persons=PEOPLE, seed=11, defect_rate=0.0, as_of=AS_OF, deliveries=1)
    return out


@pytest.fixture
def clean_platform(keyed_var: Settings, clean_region: Path) -> Settings:
    shutil.copytree(clean_region, keyed_var.sources_dir)
    return keyed_var


def _published(ref: str) -> tuple[int, list[str]]:
    """Rows and data files of the product's current snapshot."""
    domain, product = ref.split("/")
    con = lake.connect(read_only=True)
    try:
        rows = con.execute(f"SELECT count(*) FROM lake.{domain}.{product}").fetchone()[0]
        return rows, sorted(str(f) for f in lake.data_files(con, domain, product))
    finally:
        con.close()


def _verdict(run, name: str) -> str:
    [verdict] = [v for v in run.deliveries if v.delivery == name]
    return str(verdict.outcome) + (f":{verdict.reason}" if verdict.outcome != "ok" else "")


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_bad_delivery_gets_its_outcome_and_a_value_free_message(
    case: Case, clean_platform: Settings, clean_region: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    product = REGISTRY.product(case.product)
    first = run_source_product(product, clean_platform)
    assert first.status == "published", first.explain()
    before = _published(case.product)
    [good] = find_extracts(clean_platform.sources_dir, product)
    bad = plant(case, good.path)
    name = str(bad.relative_to(clean_platform.sources_dir))

    run = run_source_product(product, clean_platform)
    explanation = f"{case.product}: {run.explain()}"

    assert run.status == case.status, explanation
    assert _verdict(run, name) == case.verdict, explanation
    for words in case.says:
        assert words in explanation, explanation
    if case.verdict.startswith("rejected"):
        assert name in explanation
    # Records, not lines: read = published + quarantined, per reason as planted.
    assert run.rows_read == run.rows_staged + run.quarantined.total()
    assert run.rows_published == (run.rows_staged if run.status == "published" else 0)
    for reason, count in case.quarantined.items():
        assert run.quarantined[reason] == count, dict(run.quarantined)
    if case.line is not None:
        con = duckdb.connect(str(quarantine_zone.zone_file(clean_platform, case.product)))
        lines = con.execute(
            "SELECT line FROM quarantine WHERE extract = ? AND reason IN ('line_too_long', "
            "'malformed_line')",
            [name],
        ).fetchall()
        con.close()
        assert lines == [(case.line,)]
    if run.status != "published":
        assert _published(case.product) == before
    elif case.product == PERSONS:
        assert run.rows_read == PEOPLE  # a quoted newline is inside one record
    # No value from the delivery in the message, the checks' details or the output.
    ids = register_identifiers(next((clean_region / "cpr").rglob("*.csv")))
    captured = capfd.readouterr()
    text = "\n".join(
        [explanation, captured.out, captured.err, *(c.model_dump_json() for c in run.checks)]
    )
    assert scan_text(text, ids).total() == 0
    assert "Original Line" not in text


def test_empty_delivery_is_nothing_new_and_is_not_looked_at_again(
    clean_platform: Settings,
) -> None:
    product = REGISTRY.product(PERSONS)
    run_source_product(product, clean_platform)
    [good] = find_extracts(clean_platform.sources_dir, product)
    plant(next(c for c in CASES if c.id == "csv-empty"), good.path)
    assert run_source_product(product, clean_platform).deliveries[0].outcome == "empty"
    again = run_source_product(product, clean_platform)
    assert again.status == "up_to_date" and again.deliveries == []


def test_outcomes_are_recorded_in_the_delivery_log(clean_platform: Settings) -> None:
    product = REGISTRY.product(PERSONS)
    run_source_product(product, clean_platform)
    [good] = find_extracts(clean_platform.sources_dir, product)
    bad = plant(next(c for c in CASES if c.id == "csv-latin1"), good.path)
    run = run_source_product(product, clean_platform)
    con = lake.connect(read_only=True)
    try:
        rows = con.execute(
            "SELECT extract, outcome, reason, message, run_id FROM lake._regionlab.delivery_log "
            "WHERE product = ?",
            [PERSONS],
        ).fetchall()
    finally:
        con.close()
    name = str(bad.relative_to(clean_platform.sources_dir))
    assert [(r[0], r[1], r[2], r[4]) for r in rows] == [(name, "rejected", "encoding", run.run_id)]
    assert rows[0][3] == run.rejected[0].message


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "regionlab", *args], capture_output=True, text=True, timeout=900
    )


@pytest.mark.slow
def test_poisoned_deliveries_through_regionlab_run_leave_no_identifier_in_var_or_output(
    clean_platform: Settings, clean_region: Path
) -> None:
    """Issue 15's done-when: every format poisoned at once, run as a user runs it; nothing
    of the register is left under var/ outside the source and quarantine zones, nor in the
    output, and `regionlab run` says per product what happened and what to do."""
    first = _cli("run", "--no-catalog")
    assert first.returncode == 0, first.stdout + first.stderr
    poisons = {
        "csv-broken-quoting": "2026-11-02",
        "csv-overlong-line": "2026-11-02",
        "csv-control-bytes": "2026-11-03",
        "jsonl-latin1": "2026-11-02",
        "jsonl-control-byte": "2026-11-03",
        "jsonl-overlong-line": "2026-11-04",
        "parquet-bad-utf8": "2026-11-02",
    }
    for case_id, date in poisons.items():
        case = next(c for c in CASES if c.id == case_id)
        product = REGISTRY.product(case.product)
        good = min(find_extracts(clean_platform.sources_dir, product)).path
        plant(case, good, date)

    result = _cli("run", "--no-catalog")
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    assert "Traceback" not in output
    lines = result.stdout.splitlines()
    for ref, says in {
        PERSONS: "never closed",
        "clinical_notes/notes": "not valid utf-8",
        "patient_administration/contacts": "not valid UTF-8",
        "laboratory/lab_results": "line_too_long: 1",
    }.items():
        [line] = [x for x in lines if x.startswith(f"{ref}: ")]
        assert says in line, line

    ids = register_identifiers(next((clean_region / "cpr").rglob("*.csv")))
    no_names = Identifiers(ids.cprs, ids.phones, frozenset())
    assert scan_text(output, ids).total() == 0
    con = lake.connect(read_only=True)
    staff = {str(f) for f in lake.data_files(con, "initiatives", "initiatives")}
    con.close()
    scanned = 0
    for path in clean_platform.var_dir.rglob("*"):
        top = path.relative_to(clean_platform.var_dir).parts[0]
        if not path.is_file() or top in ("sources", "quarantine", "secrets"):
            continue
        if path.suffix == ".parquet":
            text = parquet_text([path])
        else:
            text = path.read_bytes().decode("utf-8", "replace")
        found = scan_text(text, no_names if str(path) in staff else ids)
        assert found.total() == 0, (path, dict(found))
        scanned += 1
    assert scanned > 20


def test_a_changed_append_delivery_is_reported_not_reloaded(clean_platform: Settings) -> None:
    """Issue 16: a corrected re-delivery under an already loaded name is detected."""
    product = REGISTRY.product("laboratory/lab_results")
    first = run_source_product(product, clean_platform)
    before = _published(product.ref)
    [loaded] = find_extracts(clean_platform.sources_dir, product)
    lines = loaded.path.read_bytes().splitlines(keepends=True)
    loaded.path.write_bytes(b"".join(lines[:-5]))  # the source system corrected it

    run = run_source_product(product, clean_platform)
    assert run.status == "up_to_date" and run.changed == [loaded.name]
    assert "Changed after they were loaded" in run.explain()
    assert f"`regionlab run --reload {loaded.name}`" in run.explain()
    assert _published(product.ref) == before
    again = run_source_product(product, clean_platform)
    assert again.changed == [loaded.name]  # reported on every run until a steward decides
    con = lake.connect(read_only=True)
    logged = con.execute(
        "SELECT count(*) FROM lake._regionlab.delivery_log WHERE outcome = 'changed'"
    ).fetchone()[0]
    con.close()
    assert logged == 1  # recorded once

    rebuilt = run_source_product(product, clean_platform, full_refresh=True)
    assert rebuilt.status == "published"
    assert rebuilt.rows_read == first.rows_read - 5
    assert run_source_product(product, clean_platform).changed == []


def test_a_changed_replace_delivery_replaces_the_snapshot_and_says_so(
    clean_platform: Settings,
) -> None:
    product = REGISTRY.product(PERSONS)
    run_source_product(product, clean_platform)
    [loaded] = find_extracts(clean_platform.sources_dir, product)
    lines = loaded.path.read_bytes().splitlines(keepends=True)
    loaded.path.write_bytes(b"".join(lines[:-3]))
    run = run_source_product(product, clean_platform)
    assert run.status == "published" and run.rows_published == PEOPLE - 3
    assert run.changed == [loaded.name]
    assert "Re-delivered with changed content" in run.explain()
