"""``regionlab stream``: consume a streaming product's topic into the lake; flush; status."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from cli.console import make_console
from regionlab.errors import UserError

app = typer.Typer(help="Streaming products: the consumer that publishes micro-batches.")


def stream_products(ref: str | None) -> list[Any]:
    """The declared streaming products, or the one named (by ref or id)."""
    from regionlab.spec import load_domains

    registry = load_domains()
    streams = registry.streams()
    if ref is None:
        if not streams:
            raise UserError("no streaming product is declared; add one with a `stream:` section")
        return streams
    found = [p for p in streams if ref in (p.ref, p.id)]
    if not found:
        known = ", ".join(p.ref for p in streams) or "none"
        raise UserError(f"{ref} is not a streaming product; streaming products: {known}")
    return found


@app.command("consume")
def consume(
    product: Annotated[str, typer.Argument(help="The streaming product (domain/product).")],
    queue: Annotated[
        str | None, typer.Option(help="Consume this queue instead of the spec's topic.")
    ] = None,
    idle_exit: Annotated[
        float | None, typer.Option(help="Stop after this many seconds without a message.")
    ] = None,
    max_seconds: Annotated[float | None, typer.Option(help="Stop after this many seconds.")] = None,
    dagster: Annotated[
        bool, typer.Option(help="Report each micro-batch to Dagster as a materialisation.")
    ] = True,
) -> None:
    """Consume events, publish audited micro-batches, acknowledge after each commit."""
    from regionlab.settings import get_settings
    from regionlab.streaming.consumer import consume as run

    target = stream_products(product)[0]
    hook = None
    if dagster:
        from pipelines.streaming import report_batch

        hook = report_batch
    console = make_console()
    with console.status(f"consuming {queue or target.stream.topic} into {target.ref}"):
        summary = run(
            target,
            get_settings(),
            queue=queue,
            idle_exit_seconds=idle_exit,
            max_seconds=max_seconds,
            on_batch=hook,
        )
    console.print(consumer_line(summary))


def consumer_line(summary: Any) -> str:
    lags = sorted(summary.lags)
    p95 = f"{lags[int(0.95 * (len(lags) - 1))]:.2f} s" if lags else "n/a"
    return (
        f"{summary.product}: {summary.batches} micro-batches, {summary.published:,} events "
        f"published, {summary.quarantined:,} quarantined, {summary.skipped:,} redelivered and "
        f"skipped; p95 lag event→committed {p95}; {summary.flushed_rows:,} inlined rows "
        "flushed to Parquet"
    )


@app.command("flush")
def flush(
    product: Annotated[str, typer.Argument(help="The streaming product (domain/product).")],
) -> None:
    """Write the product's inlined rows to Parquet now (the consumer does it on a schedule)."""
    from regionlab import lake
    from regionlab.streaming.consumer import flush as do_flush

    target = stream_products(product)[0]
    con = lake.connect()
    try:
        rows = do_flush(con, target)
    finally:
        con.close()
    make_console().print(f"{target.ref}: {rows:,} inlined rows written to Parquet")
