"""A blocked audit explains itself: the rule, failing rows of the total, and where to look."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from regionlab.settings import Settings
from tests.leakscan import register_identifiers, scan_text

CLI = [sys.executable, "-m", "regionlab"]
DOMAINS = Path(__file__).resolve().parents[2] / "domains"


def _run(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, *args],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "COLUMNS": "200", **env},
    )


def test_audit_failed_names_rule_counts_and_where_to_look(
    platform: Settings, tmp_path: Path
) -> None:
    """Issue 14: `audit_failed` on population/persons said nothing about why."""
    domains = tmp_path / "domains"
    shutil.copytree(DOMAINS, domains)
    spec = domains / "population" / "persons.yaml"
    text = spec.read_text(encoding="utf-8").replace(
        "k_anonymity: not_achievable", "k_anonymity: required"
    )
    spec.write_text(text, encoding="utf-8")
    env = {"REGIONLAB_DOMAINS": str(domains)}
    result = _run("run", "--product", "population/persons", "--no-catalog", env=env)
    out = " ".join((result.stdout + result.stderr).split())
    assert result.returncode == 1, out
    assert "audit_failed" in out and "Traceback" not in out
    # the rule, its failing rows out of the total, and where to look
    assert "privacy_k_anonymity (blocking):" in out
    assert " rows fail" in out and " of " in out
    assert "regionlab quarantine show population/persons" in out
    assert "regionlab catalog show population/persons" in out

    shown = _run("quarantine", "show", "population/persons", env=env)
    listing = shown.stdout + shown.stderr
    assert shown.returncode == 0, listing
    assert "invalid_cpr" in listing and "population/persons" in listing
    # reasons and counts only: no identifier from the register reaches the terminal
    persons_csv = platform.sources_dir / "cpr" / "persons" / "persons_2026-11-01.csv"
    ids = register_identifiers(persons_csv)
    assert scan_text(listing + out, ids).total() == 0
    by_id = _run("quarantine", "show", "persons", env=env)
    assert by_id.returncode == 0 and by_id.stdout == shown.stdout  # as `run --product` accepts


def test_quarantine_show_unknown_product_is_one_clear_message(platform: Settings) -> None:
    result = _run("quarantine", "show", "population/nobody", env={})
    assert result.returncode == 1
    assert "unknown product 'population/nobody'" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_cross_product_check_that_cannot_run_says_why(var_dir: Path, tmp_path: Path) -> None:
    """On an empty lake the notes' foreign keys cannot be judged: each says which product
    it reads and how to publish it, in words."""
    import datetime as dt

    import duckdb

    from quality.cross_checks import run_cross_checks
    from regionlab import lake
    from regionlab.spec import load_domains

    notes = load_domains().product("clinical_notes/notes")
    staging = tmp_path / "staging.duckdb"
    with duckdb.connect(str(staging)) as con:
        con.execute(
            "CREATE TABLE staged AS SELECT 'N1' AS note_id, 'k' AS person_key, "
            "'C1' AS contact_id, TIMESTAMP '2026-10-01 10:00' AS written_at"
        )
    con = lake.connect()
    try:
        results = run_cross_checks(con, staging, notes, dt.date(2026, 11, 1))
    finally:
        con.close()
    errored = {r.check: r for r in results if r.status == "errored"}
    assert set(errored) >= {"contact_exists", "person_in_population"}
    line = errored["person_in_population"].explain()
    assert "population/persons, which this rule reads, is not in the lake yet" in line
    assert "regionlab run --product population/persons" in line
    assert "could not run; check could not run" not in line
