"""`regionlab run` decides before Dagster starts which products have nothing to do.

The preflight must skip exactly what the Dagster run would skip. Each situation here
asks the preflight first, then runs every selected product through Dagster as
`regionlab run` did before the preflight existed, and compares: the products the
preflight skips are the ones the run ended ``up_to_date`` or ``skipped``, with the
same line for each in the run's report.
"""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any

import pytest

from cli.run_cmd import _name_skips, execute, outcome_line, preflight, reload_targets, select
from regionlab.settings import Settings
from regionlab.spec import load_domains

NOT_RUN = ("up_to_date", "skipped")


def _compare(
    registry: Any, refs: list[str], reload: dict[str, str] | None = None
) -> tuple[set[str], dict[str, str]]:
    """Preflight, then the full Dagster run; return the preflight's skips and the run's lines."""
    todo, skipped = preflight(registry, refs, reload=reload)
    assert todo == [r for r in refs if r not in skipped]
    runs = execute(refs, reload=reload, registry=registry, quiet=True)
    ran_nothing = {r.product for r in runs if r.status in NOT_RUN}
    lines = {r.product: outcome_line(r) for r in runs}
    preflight_lines = {
        r.product: outcome_line(r) for r in _name_skips(list(skipped.values()), registry)
    }
    assert set(skipped) <= ran_nothing
    for ref in skipped:
        assert preflight_lines[ref] == lines[ref]
    return set(skipped), {r.product: r.status for r in runs}


@pytest.mark.slow
def test_the_preflight_skips_exactly_what_the_dagster_run_skips(platform: Settings) -> None:
    registry = load_domains()
    refs = select(registry, None, None)

    # An empty lake: everything runs.
    skipped, status = _compare(registry, refs)
    assert skipped == set()
    assert {r for r, s in status.items() if s == "published"} == set(refs)

    # Nothing new: everything is skipped, by both.
    skipped, status = _compare(registry, refs)
    assert skipped == set(refs) == {r for r, s in status.items() if s in NOT_RUN}

    # A changed spec (a description and a rule's wording) does not make a product run:
    # the pipelines do not re-run on a spec change (`--full-refresh` does that).
    lab = registry.product("laboratory/lab_results")
    registry.products[lab.ref] = lab.model_copy(update={"description": "changed"})
    skipped, status = _compare(registry, refs)
    assert skipped == set(refs) == {r for r, s in status.items() if s in NOT_RUN}
    registry = load_domains()

    # One new lab delivery: the lab product runs; t2d_cohort reads it but also three
    # products without news, and Dagster skips a step when one upstream yields nothing.
    folder = platform.sources_dir / "labka" / "lab_results"
    newest = sorted(folder.glob("*.csv"))[-1]
    new = folder / "lab_results_2026-11-20.csv"
    new.write_text(newest.read_text(encoding="utf-8").replace("S0", "T0"), encoding="utf-8")
    skipped, status = _compare(registry, refs)
    assert set(refs) - skipped == {lab.ref}
    assert status[lab.ref] == "published" and status["research/t2d_cohort"] == "skipped"
    assert {r for r, s in status.items() if s in NOT_RUN} == skipped

    # The new delivery is corrected after it was loaded: the run records the change (so
    # the preflight sends the product to Dagster, which ends it up to date) ...
    lines = new.read_text(encoding="utf-8").splitlines(keepends=True)
    new.write_text("".join(lines[:-3]), encoding="utf-8")
    skipped, status = _compare(registry, refs)
    assert set(refs) - skipped == {lab.ref} and status[lab.ref] == "up_to_date"
    # ... and once it is recorded, the preflight skips it with the same report line.
    skipped, status = _compare(registry, refs)
    assert skipped == set(refs)

    # `--reload` of the corrected delivery: the lab product and what derives from it run
    # (t2d_cohort has only the lab product among the selected products, so it runs too).
    reload_refs, reloads = reload_targets(registry, new.name, None, None)
    assert reload_refs == [lab.ref, "research/t2d_cohort"]
    skipped, status = _compare(registry, reload_refs, reloads)
    assert skipped == set()
    assert status == {lab.ref: "published", "research/t2d_cohort": "published"}

    # And the command: nothing new answers without starting Dagster, and says so.
    runs_before = _dagster_runs()
    assert runs_before >= 7
    done = subprocess.run(
        [sys.executable, "-m", "regionlab", "run", "--no-catalog"],
        capture_output=True,
        text=True,
        timeout=600,
        env=dict(os.environ),
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "nothing new: no product had new extracts or changed upstreams" in done.stdout
    assert f"{lab.ref}: nothing new" in done.stdout
    assert "research/t2d_cohort: not run: no upstream product changed" in done.stdout
    assert _dagster_runs() == runs_before


def _dagster_runs() -> int:
    """Runs in the test's Dagster instance (DAGSTER_HOME is the test's var/dagster)."""
    import dagster as dg

    return len(dg.DagsterInstance.get().get_run_records())


def test_the_preflight_removes_a_dead_runs_staging_file(platform: Settings) -> None:
    """A no-op run starts no engine, so the preflight sweeps what the engine would have."""
    registry = load_domains()
    platform.staging_dir.mkdir(parents=True, exist_ok=True)
    dead = platform.staging_dir / "patient_administration.contacts.duckdb"
    dead.write_bytes(b"raw rows of a run that was killed")
    platform.staging_dir.chmod(0o755)
    preflight(registry, select(registry, None, None))
    assert not dead.exists()
    assert platform.staging_dir.stat().st_mode & 0o777 == 0o700
