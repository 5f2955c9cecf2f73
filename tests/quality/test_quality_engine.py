"""Rules inside write–audit–publish: blocking failures keep the snapshot, warnings publish."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest
import typer
from typer.testing import CliRunner

from cli import quality_cmd
from pipelines.quality_hook import check_names, quality_hook
from quality import history
from regionlab import lake
from regionlab.settings import Settings
from regionlab.spec import load_domains
from regionlab.wap import engine
from regionlab.wap.engine import run_derived_product, run_source_product

REGISTRY = load_domains()
CONTACTS = REGISTRY.product("patient_administration/contacts")


def _current(ref: str) -> tuple[int | None, int]:
    """(last snapshot that published ``ref``, its row count at the current snapshot)."""
    con = lake.connect(read_only=True)
    try:
        published = con.execute(
            "SELECT max(snapshot_id) FROM ducklake_snapshots('lake') WHERE commit_message = ?",
            [f"publish {ref}"],
        ).fetchone()[0]
        rows = con.execute(f"SELECT count(*) FROM lake.{ref.replace('/', '.')}").fetchone()[0]
        return published, rows
    finally:
        con.close()


def _deliver(settings: Settings, day: dt.date, edit) -> Path:
    """A new contacts extract: 6 fresh defect-free contacts from the last delivery, edited."""
    folder = settings.sources_dir / "lpr3" / "contacts"
    last = sorted(folder.glob("contacts_*.parquet"))[-1]
    plain = (pl.col("end_time") >= pl.col("start_time")) & (
        pl.col("start_time") < dt.datetime(2026, 11, 1)
    )
    rows = (
        pl.read_parquet(last)
        .filter(plain)
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
    # The engine commits the failed run's check results to the history, but no rows.
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

    con = lake.connect(read_only=True)
    try:
        runs = history.trend(con, CONTACTS.ref)
        latest = history.latest_results(con, CONTACTS.ref)
    finally:
        con.close()
    # Three runs in the history (published, blocked, published with a warning).
    assert runs["run_id"].n_unique() == 3
    assert set(latest["run_id"]) == {warned.run_id}
    assert latest.filter(pl.col("check") == "priority_valid")["status"].to_list() == ["failed"]


def test_clean_region_passes_every_check_and_summary_shows_it(
    clean_platform: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every quality rule of every product passes on a defect-free region.

    The privacy gates are left out (they have their own tests): the k-anonymity
    gate on a small synthetic population can block persons, which would leave the
    other products' foreign keys without a reference.
    """
    monkeypatch.setattr(engine, "privacy_gates", lambda *args, **kwargs: [])
    first = ["population/persons", CONTACTS.ref]  # referenced by other products' rules
    order = [REGISTRY.product(r) for r in first] + [
        p for p in REGISTRY.batch_order() if p.ref not in first
    ]
    for product in order:
        runner = run_derived_product if product.derived else run_source_product
        run = runner(product, clean_platform, quality_hook=quality_hook)
        assert run.status == "published", (product.ref, run.blocking_failures)
        failing = [(c.check, c.status.value, c.detail) for c in run.checks if not c.passed]
        assert not failing, product.ref
        con = lake.connect(read_only=True)
        try:
            summary = history.quality_summary(con, product.ref)
        finally:
            con.close()
        rules = {r.kahn.value for r in product.quality}
        assert rules <= set(summary["category"].to_list())
        assert summary["pass_rate"].min() == 1.0

    cli = typer.Typer()  # the lead registers the command on regionlab's app
    cli.callback()(lambda: None)
    cli.command("quality")(quality_cmd.quality)
    result = CliRunner().invoke(cli, ["quality", CONTACTS.ref], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert CONTACTS.ref in result.output and "plausibility" in result.output
    assert "(100%)" in result.output
    everything = CliRunner().invoke(cli, ["quality"], env={"COLUMNS": "200"})
    assert everything.exit_code == 0 and "population/persons" in everything.output
