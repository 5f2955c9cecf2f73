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
    from catalog.emit import build_mcps, entity_counts
    from catalog.lake_facts import facts_from_lake
    from catalog.sinks import rest_target, write_json, write_lite, write_rest
    from regionlab.spec import load_domains

    registry = load_domains()
    facts = facts_from_lake(registry)
    mcps = build_mcps(registry, facts)
    path = write_json(mcps)
    console.print(f"{len(mcps)} proposals → {path}", highlight=False)
    if lite:
        written = write_lite(mcps)
        console.print(f"DataHub Lite: {written} written (unchanged aspects are not versioned)")
    target = rest_target()
    if target is not None:
        write_rest(mcps, *target)
        console.print(f"DataHub REST: {len(mcps)} sent to {target[0]}", highlight=False)
    table = Table("entity type", "count")
    for kind, n in entity_counts(mcps).items():
        table.add_row(kind, str(n))
    console.print(table)


@app.command()
def show(product: str = typer.Argument(..., help="Product id, <domain>/<product>.")) -> None:
    """Show what DataHub Lite holds for a product: owners, lineage, schema, quality."""
    from catalog.show import show as render

    console.print(render(product))
