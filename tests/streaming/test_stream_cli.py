"""The steward's commands: `regionlab synth stream` publishes, `regionlab stream consume`
publishes micro-batches, and both say what happened in counts (never a value)."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

import cli
from regionlab.errors import UserError
from regionlab.settings import Settings
from regionlab.synth.fhir_events import Population
from regionlab.synth.stream_feed import read_ledger
from tests.streaming.conftest import REF

pytestmark = pytest.mark.slow


def test_synth_stream_then_consume(region: Settings, queue: str) -> None:
    cli._register()
    runner = CliRunner()
    sent = runner.invoke(
        cli.app, ["synth", "stream", "--seconds", "2", "--rate", "20", "--queue", queue]
    )
    assert sent.exit_code == 0, sent.output
    ledger = read_ledger(region.sources_dir / "stream" / "ledger.jsonl")
    assert f"published {len(ledger)} events" in sent.output and len(ledger) >= 30
    got = runner.invoke(
        cli.app, ["stream", "consume", REF, "--queue", queue, "--idle-exit", "2", "--no-dagster"]
    )
    assert got.exit_code == 0, got.output
    assert f"{REF}: " in got.output and "micro-batches" in got.output
    for cpr in Population.load(region.sources_dir).cpr:
        assert cpr not in sent.output + got.output


def test_consume_names_the_streaming_products(var_dir: Path) -> None:
    cli._register()
    got = CliRunner().invoke(cli.app, ["stream", "consume", "laboratory/lab_results"])
    assert isinstance(got.exception, UserError)
    assert str(got.exception) == (
        "laboratory/lab_results is not a streaming product; streaming products: "
        "laboratory/epj_observations"
    )
