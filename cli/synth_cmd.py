"""``regionlab synth``: write the synthetic region's source extracts."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from cli.console import make_console
from regionlab.errors import UserError


def _parse_date(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise UserError(
            f"--as-of {value!r} is not a date; write it as YYYY-MM-DD, e.g. 2026-11-01"
        ) from None


app = typer.Typer(
    invoke_without_command=True,
    help="Synthetic sources: batch extracts, or (`synth stream`) a live FHIR event feed.",
)


@app.callback()
def synth(
    ctx: typer.Context,
    persons: Annotated[int, typer.Option(help="Number of persons in the CPR register.")] = 5000,
    seed: Annotated[
        int, typer.Option(help="Random seed; the same seed and options give identical files.")
    ] = 42,
    defect_rate: Annotated[
        float, typer.Option(help="Share of rows given a labelled defect (0 to 0.5).")
    ] = 0.01,
    out: Annotated[
        Path | None,
        typer.Option(help="Output folder (default: the sources folder under REGIONLAB_VAR)."),
    ] = None,
    as_of: Annotated[
        str, typer.Option(help="Extract date (YYYY-MM-DD); no regular event is later.")
    ] = "2026-11-01",
    deliveries: Annotated[
        int, typer.Option(help="Number of dated delivery files per event extract.")
    ] = 3,
    chunk_size: Annotated[int, typer.Option(help="Persons per progress step.")] = 100_000,
) -> None:
    """Generate synthetic source extracts (CPR, LPR3, LABKA, FMK, EPJ, initiatives)."""
    if ctx.invoked_subcommand is not None:
        return
    from regionlab.settings import get_settings
    from regionlab.synth import generate

    if persons < 1:
        raise UserError(f"--persons must be at least 1 (got {persons})")
    if not 0.0 <= defect_rate <= 0.5:
        raise UserError(f"--defect-rate must be between 0 and 0.5 (got {defect_rate})")
    if deliveries < 1:
        raise UserError(f"--deliveries must be at least 1 (got {deliveries})")
    target = out if out is not None else get_settings().sources_dir
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
    )

    console = make_console()
    with Progress(
        TextColumn("[bold]persons"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    ) as bar:
        task = bar.add_task("persons", total=persons)
        manifest = generate(
            target,
            persons=persons,
            seed=seed,
            defect_rate=defect_rate,
            as_of=_parse_date(as_of),
            deliveries=deliveries,
            chunk_size=chunk_size,
            progress=lambda done, total: bar.update(task, completed=done),
        )
    table = Table(title=f"Synthetic sources in {target}", title_justify="left")
    table.add_column("file", overflow="fold")
    table.add_column("rows", justify="right")
    for entry in manifest.files:
        table.add_row(entry.path, f"{entry.rows:,}")
    console.print(table)
    defects = ", ".join(f"{k}: {v:,}" for k, v in manifest.defects.items()) or "none"
    console.print(f"defects labelled in defects.csv: {defects}")


@app.command("stream")
def stream(
    rate: Annotated[float, typer.Option(help="Events per second.")] = 32.0,
    seconds: Annotated[float, typer.Option(help="How long to publish.")] = 30.0,
    burst: Annotated[
        float, typer.Option(help="Rate factor inside the burst window (10 = ten times).")
    ] = 1.0,
    burst_seconds: Annotated[
        float, typer.Option(help="Length of the burst window, starting a third in.")
    ] = 10.0,
    defect_rate: Annotated[
        float, typer.Option(help="Share of events given a labelled defect (0 to 0.5).")
    ] = 0.02,
    duplicate_rate: Annotated[
        float, typer.Option(help="Share of events sent twice (0 to 0.5).")
    ] = 0.01,
    seed: Annotated[int, typer.Option(help="Random seed of the resources.")] = 42,
    product: Annotated[
        str | None, typer.Option(help="Only this streaming product (domain/product).")
    ] = None,
    queue: Annotated[
        str | None, typer.Option(help="Publish to this queue instead of the spec's topic.")
    ] = None,
) -> None:
    """Publish FHIR R4 events (Observation, Encounter) of the synthetic region's persons."""
    from cli.stream_cmd import stream_products
    from regionlab.settings import get_settings
    from regionlab.synth.stream_feed import Rate, publish_feed

    settings = get_settings()
    products = stream_products(product)
    ledger = settings.sources_dir / "stream" / "ledger.jsonl"
    console = make_console()
    with console.status(f"publishing {rate:g}/s for {seconds:g} s"):
        summary = publish_feed(
            products,
            settings.sources_dir,
            ledger,
            rate=Rate(rate, seconds, burst, burst_seconds),
            seed=seed,
            defect_rate=defect_rate,
            duplicate_rate=duplicate_rate,
            queue=queue,
        )
    queues = ", ".join(f"{q}: {n:,}" for q, n in sorted(summary.by_queue.items()))
    defects = ", ".join(f"{k}: {v:,}" for k, v in sorted(summary.defects.items())) or "none"
    console.print(
        f"published {summary.sent:,} events in {summary.seconds:.1f} s ({queues}); "
        f"defects labelled in the ledger: {defects}; ledger {ledger}"
    )
