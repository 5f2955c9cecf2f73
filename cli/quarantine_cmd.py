"""`regionlab quarantine show <domain>/<product>`: why rows were set aside, counts only."""

from __future__ import annotations

import typer
from rich.markup import escape
from rich.table import Table

from cli.console import make_console
from regionlab.errors import UserError

app = typer.Typer(no_args_is_help=True)


@app.command("show")
def show(
    product: str = typer.Argument(help="Product `<domain>/<product>` (or its id alone)."),
) -> None:
    """List the reasons rows of a product are in quarantine, with counts (never values)."""
    from regionlab.settings import get_settings
    from regionlab.spec import load_domains
    from regionlab.wap.quarantine_zone import summary, zone_file

    registry = load_domains()
    matches = [r for r in registry.products if product in (r, r.split("/")[1])]
    if len(matches) != 1:
        raise UserError(
            f"unknown product {product!r}; write `<domain>/<product>`, one of: "
            + ", ".join(sorted(registry.products))
        )
    product = matches[0]
    settings = get_settings()
    rows = summary(settings, product)
    console = make_console()
    if not rows:
        console.print(f"{product}: no rows in quarantine")
        return
    table = Table(title=f"Quarantine of {escape(product)} (counts only; values stay in the zone)")
    for column in ("reason", "extract", "rows", "last quarantined"):
        table.add_column(column, justify="right" if column == "rows" else "left")
    for reason, extract, count, at in rows:
        table.add_row(escape(reason), escape(extract), str(count), f"{at:%Y-%m-%d %H:%M}")
    console.print(table)
    console.print(
        f"total {sum(r[2] for r in rows)} rows in {zone_file(settings, product)} "
        "(restricted: open it only under the zone's access rules)"
    )
