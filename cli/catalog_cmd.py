"""``regionlab catalog``: emit the catalogue metadata and read a product back from DataHub Lite."""

from __future__ import annotations

import typer
from rich.table import Table

from cli.console import make_console

app = typer.Typer(help="DataHub metadata: emit and show the catalogue.", no_args_is_help=True)
console = make_console()


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
        console.print(
            f"DataHub REST: {result.proposals} sent to {result.rest_url}", highlight=False
        )
    table = Table("entity type", "count")
    for kind, n in result.counts.items():
        table.add_row(kind, str(n))
    console.print(table)


@app.command()
def show(product: str = typer.Argument(..., help="Product id, <domain>/<product>.")) -> None:
    """Show what DataHub Lite holds for a product: owners, lineage, schema, quality."""
    from catalog.show import show as render

    console.print(render(product))


@app.command()
def site(
    serve: bool = typer.Option(False, help="Serve the built site on 127.0.0.1 afterwards."),
    port: int = typer.Option(8080, help="Port for --serve."),
) -> None:
    """Build the static catalogue site from metadata.json into <var>/catalog/site/."""
    from catalog.site.build import build_site

    out = build_site()
    console.print(f"catalogue site → {out / 'index.html'} (opens from disk or any web server)")
    if serve:
        import contextlib
        import functools
        import http.server

        handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(out))
        with http.server.ThreadingHTTPServer(("127.0.0.1", port), handler) as httpd:
            console.print(f"serving on http://127.0.0.1:{port}/ (Ctrl-C stops)")
            with contextlib.suppress(KeyboardInterrupt):
                httpd.serve_forever()


export_app = typer.Typer(help="Export the catalogue: HealthDCAT-AP and ODCS.", no_args_is_help=True)
app.add_typer(export_app, name="export")


@export_app.command("dcat")
def export_dcat() -> None:
    """Write the products as HealthDCAT-AP (Turtle) to <var>/catalog/healthdcat-ap.ttl."""
    from catalog.dcat import export_dcat as run

    path, n = run()
    console.print(f"HealthDCAT-AP: {n} datasets → {path}", highlight=False)


@export_app.command("odcs")
def export_odcs() -> None:
    """Write one ODCS v3 data contract per product under <var>/catalog/odcs/."""
    from catalog.odcs import export_odcs as run

    paths = run()
    folder = paths[0].parent.parent if paths else "-"
    console.print(f"ODCS: {len(paths)} contracts → {folder}", highlight=False)
