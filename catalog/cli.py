"""``regionlab catalog``: emit the catalogue metadata and read a product back from DataHub Lite."""

from __future__ import annotations

import typer
from rich.console import Console
from rich.table import Table

app = typer.Typer(help="DataHub-metadata: udsend og vis kataloget.", no_args_is_help=True)
console = Console()


@app.command()
def emit(
    lite: bool = typer.Option(True, help="Also write to the embedded DataHub Lite."),
) -> None:
    """Build the metadata from specs and lake, write metadata.json, DataHub Lite and REST."""
    from catalog.publish import emit_catalog

    result = emit_catalog(lite=lite)
    console.print(f"{result.proposals} proposals → {result.json_path}", highlight=False)
    if result.lite_written is not None:
        console.print(
            f"DataHub Lite: {result.lite_written} written (unchanged aspects are not versioned)"
        )
    if result.rest_url is not None:
        console.print(f"DataHub REST: {result.proposals} sent to {result.rest_url}", highlight=False)
    table = Table("entity type", "count")
    for kind, n in result.counts.items():
        table.add_row(kind, str(n))
    console.print(table)


@app.command()
def show(product: str = typer.Argument(..., help="Product id, <domain>/<product>.")) -> None:
    """Show what DataHub Lite holds for a product: owners, lineage, schema, quality."""
    from catalog.show import show as render

    console.print(render(product))
