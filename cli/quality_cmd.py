"""`regionlab quality [product]`: pass rate per Kahn category and privacy, from the latest runs."""

from __future__ import annotations

import typer
from rich.table import Table

from cli.console import make_console
from regionlab.errors import UserError

CATEGORIES = ("conformance", "completeness", "plausibility", "privacy")


def _cell(row: dict | None) -> str:
    if row is None:
        return "–"
    text = f"{row['passed']}/{row['checks']} ({row['pass_rate']:.0%})"
    if row["blocking_failures"]:
        return f"[red]{text}[/]"
    if row["passed"] < row["checks"]:
        return f"[yellow]{text}[/]"
    return f"[green]{text}[/]"


def quality(
    product: str | None = typer.Argument(
        None, help="Product id `<domain>/<product>` (default: all)."
    ),
) -> None:
    """Show each product's latest quality results: pass rate per Kahn category and privacy."""
    from quality.history import quality_summary  # outer layer, imported lazily
    from regionlab import lake

    if product is not None and product.count("/") != 1:
        raise UserError(f"product {product!r} must be written `<domain>/<product>`")
    con = lake.connect(read_only=True)
    try:
        summary = quality_summary(con, product)
    finally:
        con.close()
    if summary.is_empty():
        which = product or "any product"
        raise UserError(f"no quality results for {which} yet; run `regionlab run` first")
    found = set(summary["category"].to_list())
    categories = [*CATEGORIES, *sorted(found - set(CATEGORIES))]
    table = Table(title="Quality: checks passed per category (latest run)")
    table.add_column("product", no_wrap=True)
    for category in categories:
        table.add_column(category, justify="right")
    table.add_column("blocking failures", justify="right")
    table.add_column("checked at")
    for (ref,), rows in summary.group_by(["product"], maintain_order=True):
        by_category = {r["category"]: r for r in rows.iter_rows(named=True)}
        blocking = sum(r["blocking_failures"] for r in by_category.values())
        checked = max(r["checked_at"] for r in by_category.values())
        table.add_row(
            str(ref),
            *(_cell(by_category.get(c)) for c in categories),
            f"[red]{blocking}[/]" if blocking else "0",
            f"{checked:%Y-%m-%d %H:%M}",
        )
    make_console().print(table)
