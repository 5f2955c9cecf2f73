"""Rules inside write–audit–publish: blocking failures keep the snapshot, warnings publish."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
from typer.testing import CliRunner

from pipelines.engine import run_derived_product, run_source_product
from pipelines.quality_hook import check_names, quality_hook
from quality import history
from regionlab import lake
from regionlab.cli import app, quality_cmd
from regionlab.settings import Settings
from regionlab.spec import load_domains

REGISTRY = load_domains()
CONTACTS = REGISTRY.product("patient_administration/contacts")


def _current(ref: str) -> tuple[int, int]:
    con = lake.connect(read_only=True)
    try:
        snapshot = lake.current_snapshot(con)
        rows = con.execute(f"SELECT count(*) FROM lake.{ref.replace('/', '.')}").fetchone()[0]
        return snapshot, rows
    finally:
        con.close()


def _deliver(settings: Settings, day: dt.date, edit) -> Path:
    """A new contacts extract: 6 fresh contacts copied from the last delivery, then ``edit``."""
    folder = settings.sources_dir / "lpr3" / "contacts"
    last = sorted(folder.glob("contacts_*.parquet"))[-1]
    rows = (
        pl.read_parquet(last)
        .head(6)
        .with_columns(
            contact_id=pl.format("K9{}", pl.int_range(100000, 100006).cast(pl.Utf8)),
            priority=pl.lit("akut"),
        )
    )
    path = folder / f"contacts_{day}.parquet"
    edit(rows).write_parquet(path)
    return path


def test_check_names_lists_every_rule_with_its_blocking_flag() -> None:
    names = {name: blocking for name, _, blocking in check_names(CONTACTS)}
    for rule in CONTACTS.quality:
        assert names[rule.id] == (rule.severity.value == "blocking")
    assert "privacy_identifier_scan" in names


def test_blocking_failure_keeps_snapshot_and_warning_publishes(defect_platform: Settings) -> None:
    run = run_source_product(CONTACTS, defect_platform, quality_hook=quality_hook)
    assert run.status == "published", run.blocking_failures
    assert {c.check for c in run.checks} >= {r.id for r in CONTACTS.quality}
    before = _current(CONTACTS.ref)

    # A repeated row key with different content: not an exact duplicate, so it reaches the audit.
    _deliver(
        defect_platform,
        dt.date(2026, 12, 1),
        lambda rows: pl.concat([rows, rows.head(1).with_columns(priority=pl.lit("planlagt"))]),
    )
    failed = run_source_product(CONTACTS, defect_platform, quality_hook=quality_hook)
    assert failed.status == "audit_failed"
    assert [c.check for c in failed.blocking_failures] == ["contact_id_unique"]
    assert _current(CONTACTS.ref) == before

    # Replace the bad delivery with one whose only problem is a warning rule.
    (defect_platform.sources_dir / "lpr3" / "contacts" / "contacts_2026-12-01.parquet").unlink()
    _deliver(
        defect_platform,
        dt.date(2026, 12, 2),
        lambda rows: rows.with_columns(priority=pl.lit("ukendt")),
    )
    warned = run_source_product(CONTACTS, defect_platform, quality_hook=quality_hook)
    assert warned.status == "published", warned.blocking_failures
    priority = next(c for c in warned.checks if c.check == "priority_valid")
    assert priority.status.value == "failed" and priority.severity == "warning"
    assert priority.unexpected_count == 6
    assert _current(CONTACTS.ref)[1] == before[1] + 6
    fresh = next(c for c in warned.checks if c.check == "fresh_extract")
    assert fresh.passed and "31 days apart" in fresh.detail


def test_clean_region_passes_every_check_and_summary_shows_it(clean_platform: Settings) -> None:
    con = lake.connect()
    try:
        history.ensure(con)
    finally:
        con.close()
    for product in REGISTRY.topological():
        runner = run_derived_product if product.derived else run_source_product
        run = runner(product, clean_platform, quality_hook=quality_hook)
        assert run.status == "published", (product.ref, run.blocking_failures)
        failing = [
            (c.check, c.status.value, c.detail)
            for c in run.checks
            if not c.passed and c.category != "privacy"
        ]
        assert not failing, product.ref
        con = lake.connect()
        try:
            con.executemany(
                history.INSERT,
                history.history_rows(
                    run.checks, product.ref, run.snapshot_id, run.run_id, dt.datetime.now(dt.UTC)
                ),
            )
            summary = history.quality_summary(con, product.ref)
        finally:
            con.close()
        rules = {r.kahn.value for r in product.quality}
        assert rules <= set(summary["category"].to_list())
        assert summary.filter(pl.col("category") != "privacy")["pass_rate"].min() == 1.0

    app.command("quality")(quality_cmd.quality)
    result = CliRunner().invoke(app, ["quality", CONTACTS.ref])
    assert result.exit_code == 0, result.output
    assert CONTACTS.ref in result.output and "plausibility" in result.output
