"""Issue 16: `regionlab run --reload <file>` replaces the rows a changed delivery published.

A delivery whose content changed after it was loaded is reported with the command to
run; the reload reads it again through the same write–audit–publish path and, in one
lake transaction, deletes the rows that came from it and inserts the re-read ones. Other
deliveries' rows, the suppression list and the audit all hold; the quarantine entries
of the old version go; the load log takes the new fingerprint.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from regionlab import lake
from regionlab.erasure import erase, make_request
from regionlab.errors import UserError
from regionlab.platform.names import DELIVERY_COLUMN
from regionlab.privacy.keys import load_key
from regionlab.privacy.pseudonym import person_key
from regionlab.settings import Settings
from regionlab.spec import load_domains
from regionlab.synth.generate import generate
from regionlab.wap import quarantine_zone
from regionlab.wap.engine import run_source_product
from regionlab.wap.sources import Extract, find_extracts
from tests.leakscan import register_identifiers, scan_text

REGISTRY = load_domains()
LAB = REGISTRY.product("laboratory/lab_results")
PERSONS = REGISTRY.product("population/persons")
AS_OF = dt.date(2026, 11, 1)
COLUMNS = ("sample_id", "cpr", "npu_code", "analysis_name")


@pytest.fixture(scope="module")
def two_deliveries(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small clean region with two deliveries per source."""
    out = tmp_path_factory.mktemp("reload") / "sources"
    generate(out=out, persons=300, seed=5, defect_rate=0.0, as_of=AS_OF, deliveries=2)
    return out


@pytest.fixture
def lab(keyed_var: Settings, two_deliveries: Path) -> Settings:
    """Both lab deliveries (and the population) published; nothing changed yet."""
    shutil.copytree(two_deliveries, keyed_var.sources_dir)
    assert run_source_product(PERSONS, keyed_var).status == "published"
    first = run_source_product(LAB, keyed_var)
    assert first.status == "published" and len(first.extracts) == 2, first.explain()
    return keyed_var


def _deliveries(settings: Settings) -> list[Extract]:
    found = find_extracts(settings.sources_dir, LAB)
    assert len(found) == 2
    return found


def _rows_by_delivery() -> dict[str, tuple[int, int]]:
    """Delivery → (rows, checksum of the rows) in the current snapshot."""
    con = lake.connect(read_only=True)
    try:
        rows = con.execute(
            f"SELECT {DELIVERY_COLUMN}, count(*), sum(hash(t)::HUGEINT) "
            "FROM lake.laboratory.lab_results t GROUP BY 1"
        ).fetchall()
    finally:
        con.close()
    return {name: (int(n), int(digest)) for name, n, digest in rows}


def _state() -> tuple[int | None, dict[str, tuple[int, int]], dict[str, str]]:
    """Current snapshot, rows per delivery and the load log's fingerprints."""
    con = lake.connect(read_only=True)
    try:
        snapshot = lake.current_snapshot(con)
        log = dict(
            con.execute(
                "SELECT extract, sha256 FROM lake._regionlab.load_log WHERE product = ?",
                [LAB.ref],
            ).fetchall()
        )
    finally:
        con.close()
    return snapshot, _rows_by_delivery(), log


def _quarantine(settings: Settings) -> list[tuple[str, str, str]]:
    """(extract, reason, run id) of every quarantined row of the product."""
    con = duckdb.connect(str(quarantine_zone.zone_file(settings, LAB.ref)), read_only=True)
    try:
        return con.execute("SELECT extract, reason, run_id FROM quarantine").fetchall()
    finally:
        con.close()


def _correct(delivery: Extract, drop: int = 5, duplicate: int = 2) -> None:
    """The source system's correction: its last ``drop`` records go and ``duplicate``
    exact copies of its first record arrive (quarantined as duplicates on reload)."""
    lines = delivery.path.read_bytes().splitlines(keepends=True)
    delivery.path.write_bytes(b"".join(lines[:-drop] + [lines[1]] * duplicate))


def test_a_changed_delivery_is_reported_and_reload_replaces_exactly_its_rows(
    lab: Settings,
) -> None:
    old, other = _deliveries(lab)
    _, before, log_before = _state()
    assert set(before) == {old.name, other.name}  # every row names its delivery
    _correct(old)

    reported = run_source_product(LAB, lab)
    assert reported.status == "up_to_date" and reported.changed == [old.name]
    assert f"`regionlab run --reload {old.name}`" in reported.explain()
    assert _state()[1] == before

    run = run_source_product(LAB, lab, reload=old.name)
    assert run.status == "published", run.explain()
    assert run.reloaded == old.name and run.changed == []
    assert run.rows_replaced == before[old.name][0]
    assert run.rows_read == before[old.name][0] - 5 + 2
    assert run.rows_read == run.rows_published + run.quarantined.total()  # reconciliation
    assert run.quarantined == {"duplicate_row": 2}
    assert f"reloaded {old.name}" in run.explain()

    snapshot, after, log_after = _state()
    assert snapshot == run.snapshot_id
    assert after[other.name] == before[other.name]  # another delivery's rows are untouched
    assert after[old.name][0] == run.rows_published == before[old.name][0] - 5
    assert log_after[old.name] == old.fingerprint() != log_before[old.name]
    assert log_after[other.name] == log_before[other.name]
    # The quarantine zone holds the new version's entries only, attributed to the file.
    assert {(e, r) for e, r, rid in _quarantine(lab) if rid == run.run_id} == {
        (old.name, "duplicate_row")
    }
    assert all(rid == run.run_id for e, _, rid in _quarantine(lab) if e == old.name)

    again = run_source_product(LAB, lab)
    assert again.status == "up_to_date" and again.changed == []
    con = lake.connect(read_only=True)
    outcomes = con.execute(
        "SELECT outcome FROM lake._regionlab.delivery_log WHERE extract = ? ORDER BY checked_at",
        [old.name],
    ).fetchall()
    con.close()
    assert [o for (o,) in outcomes] == ["changed", "reloaded"]


def test_a_reload_whose_new_version_fails_the_audit_changes_nothing(lab: Settings) -> None:
    old, _ = _deliveries(lab)
    state = _state()
    quarantined = _quarantine(lab)
    lines = old.path.read_bytes().splitlines(keepends=True)
    fields = lines[1].split(b",")
    fields[COLUMNS.index("analysis_name")] = fields[COLUMNS.index("cpr")]  # a CPR in free text
    old.path.write_bytes(b"".join([lines[0], b",".join(fields), *lines[2:-1]]))

    run = run_source_product(LAB, lab, reload=old.name)
    assert run.status == "audit_failed"
    assert "privacy_identifier_scan" in [c.check for c in run.blocking_failures]
    snapshot, rows, log = _state()
    assert (rows, log) == state[1:]  # same rows, same fingerprints
    con = lake.connect(read_only=True)
    kinds = [s.kind for s in lake.list_snapshots(con) if s.id > (state[0] or 0)]
    con.close()
    assert kinds == ["audit_failed"]  # only the record of the blocked audit
    assert _quarantine(lab) == quarantined  # the old version's entries stay too
    assert run_source_product(LAB, lab).changed == [old.name]  # still reported


def test_a_reload_honours_the_suppression_list(lab: Settings) -> None:
    old, _ = _deliveries(lab)
    header, *records = old.path.read_bytes().splitlines(keepends=True)
    cpr = records[0].split(b",")[COLUMNS.index("cpr")].decode()
    pkey = person_key(cpr, load_key())
    receipt = erase(make_request("R-reload", "indsigelse", [cpr]))
    assert receipt.verification.passed
    _correct(old, duplicate=0)

    run = run_source_product(LAB, lab, reload=old.name, keep_staging=True)
    assert run.status == "published", run.explain()
    assert run.quarantined["erased_person"] >= 1
    assert run.rows_read == run.rows_published + run.quarantined.total()
    # The erased person's rows are gone from the staging file's raw rows too (``raw`` has
    # no key column since build_staged joins the key: the hook goes by the CPR mapping).
    staging = lab.staging_dir / f"{LAB.domain}.{LAB.id}.duckdb"
    con = duckdb.connect(str(staging), read_only=True)
    try:
        in_raw = con.execute("SELECT count(*) FROM raw WHERE cpr = ?", [cpr]).fetchone()[0]
        raw_rows = con.execute("SELECT count(*) FROM raw").fetchone()[0]
    finally:
        con.close()
    for stale in (staging, staging.with_suffix(".duckdb.wal")):  # raw CPR numbers
        stale.unlink(missing_ok=True)
    assert raw_rows > 0 and in_raw == 0
    con = lake.connect(read_only=True)
    found = con.execute(
        "SELECT count(*) FROM lake.laboratory.lab_results WHERE person_key = ?", [pkey]
    ).fetchone()[0]
    con.close()
    assert found == 0


def test_reload_refuses_what_it_cannot_reload(lab: Settings) -> None:
    old, _ = _deliveries(lab)
    with pytest.raises(UserError, match="has no delivery"):
        run_source_product(LAB, lab, reload="labka/lab_results/lab_results_1999-01-01.csv")
    [newest] = find_extracts(lab.sources_dir, PERSONS)
    older = newest.path.with_name("persons_2026-01-01.csv")
    shutil.copyfile(newest.path, older)
    with pytest.raises(UserError, match="not the newest delivery"):
        run_source_product(PERSONS, lab, reload=str(older.relative_to(lab.sources_dir)))
    old.path.write_bytes(old.path.read_bytes().splitlines(keepends=True)[0])  # header only
    before = _state()
    run = run_source_product(LAB, lab, reload=old.name)
    assert run.status == "delivery_rejected" and "full-refresh" in run.explain()
    assert _state()[1:] == before[1:]  # rows and fingerprints; the rejection is recorded
    assert [v.reason for v in run.rejected] == ["empty_reload"]


def test_reload_of_the_newest_delivery_of_a_replace_product(lab: Settings) -> None:
    [newest] = find_extracts(lab.sources_dir, PERSONS)
    run = run_source_product(PERSONS, lab, reload=newest.name)
    assert run.status == "published" and run.rows_replaced == run.rows_published > 0


def test_a_lake_from_before_the_delivery_column_is_migrated_and_says_so(
    lab: Settings,
) -> None:
    """Rows published before the column existed cannot be attributed: reload says what to do;
    appending still works (the column is added), and a full refresh makes reload work."""
    old, other = _deliveries(lab)
    con = lake.connect()
    with lake.transaction(con):
        con.execute(f"ALTER TABLE lake.laboratory.lab_results DROP COLUMN {DELIVERY_COLUMN}")
    con.close()
    header, *records = other.path.read_bytes().splitlines(keepends=True)
    new = other.path.with_name("lab_results_2026-11-15.csv")
    new.write_bytes(b"".join([header, *(r.replace(b"S0", b"T0", 1) for r in records[:3])]))
    name = str(new.relative_to(lab.sources_dir))
    appended = run_source_product(LAB, lab)
    assert appended.status == "published" and appended.rows_published == 3
    assert _rows_by_delivery()[name][0] == 3  # the column was added; old rows have none
    _correct(old)
    with pytest.raises(UserError, match="--full-refresh"):
        run_source_product(LAB, lab, reload=old.name)
    rebuilt = run_source_product(LAB, lab, full_refresh=True)
    assert rebuilt.status == "published"
    assert set(_rows_by_delivery()) == {old.name, other.name, name}
    assert run_source_product(LAB, lab, reload=old.name).status == "published"


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "regionlab", *args],
        capture_output=True,
        text=True,
        timeout=900,
        env={**os.environ, "COLUMNS": "250"},
    )


@pytest.mark.slow
def test_regionlab_run_names_the_reload_command_and_runs_it(lab: Settings) -> None:
    """Through the CLI and Dagster: the report names the exact command; it works, then the
    file is no longer reported; an unknown file is one clear error. No value is printed."""
    for product in REGISTRY.batch_order():  # the whole lake: derived products are rebuilt
        if product.source is not None and product.ref not in (LAB.ref, PERSONS.ref):
            assert run_source_product(product, lab).status == "published"
    old, _ = _deliveries(lab)
    _correct(old)
    ids = register_identifiers(next((lab.sources_dir / "cpr").rglob("*.csv")))

    reported = _cli("run", "--product", LAB.ref, "--no-catalog")
    out = reported.stdout + reported.stderr
    assert f"`regionlab run --reload {old.name}`" in out, out

    reloaded = _cli("run", "--reload", str(old.path), "--no-catalog")
    out += reloaded.stdout + reloaded.stderr
    assert reloaded.returncode == 0, out
    assert f"laboratory/lab_results: reloaded {old.name}" in reloaded.stdout, out
    derived = [p.ref for p in REGISTRY.downstream(LAB.ref)]
    assert derived and all(f"{ref}: published" in reloaded.stdout for ref in derived), out

    plain = _cli("run", "--product", LAB.ref, "--no-catalog")
    out += plain.stdout + plain.stderr
    assert plain.returncode == 0 and "--reload" not in plain.stdout, out

    unknown = _cli("run", "--reload", "lab_results_1999-01-01.csv", "--no-catalog")
    out += unknown.stdout + unknown.stderr
    assert unknown.returncode == 1
    assert "lab_results_1999-01-01.csv" in unknown.stdout + unknown.stderr
    assert "Traceback" not in out
    assert scan_text(out, ids).total() == 0
