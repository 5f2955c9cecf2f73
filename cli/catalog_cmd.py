"""``regionlab catalog``: emit the catalogue metadata and read a product back from DataHub Lite."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

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
            f"DataHub Lite: {result.lite_written} written, {result.lite_unchanged} unchanged "
            "since the last emission (skipped)"
        )
    if result.removed:
        console.print(
            f"{result.removed} entities no longer in the specs marked removed (soft delete)"
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


@app.command(
    context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
    add_help_option=False,
)
def lite(ctx: typer.Context) -> None:
    """Run `datahub lite …` on regionlab's DataHub Lite, whatever the user's home holds."""
    import subprocess
    import sys

    from catalog.lite import cli_env

    proc = subprocess.run([sys.executable, "-m", "datahub", "lite", *ctx.args], env=cli_env())
    raise typer.Exit(proc.returncode)


@app.command()
def site(
    serve: bool = typer.Option(False, help="Serve the built site on 127.0.0.1 afterwards."),
    port: int = typer.Option(8080, help="Port for --serve."),
) -> None:
    """Build the static catalogue site from metadata.json into <var>/catalog/site/."""
    from catalog.site.build import build_site

    out = build_site()
    console.print(
        f"catalogue site → {out / 'index.html'} (opens from disk or any web server; "
        "`regionlab serve` serves it at /site/ with the feasibility form)"
    )
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


def _print_warnings(report: Any) -> None:
    """One line per (property, message) with the number of datasets or nodes it concerns."""
    grouped = Counter(
        (f.path or "-", f.message[:200]) for f in report.findings if f.severity == "Warning"
    )
    for (prop, message), n in sorted(grouped.items(), key=lambda item: (-item[1], item[0])):
        console.print(f"{report.level.value}: warning {n} × {prop}: {message}", highlight=False)


@app.command()
def validate(
    file: Path | None = typer.Option(
        None, "--file", help="Turtle file to validate; default <var>/catalog/healthdcat-ap.ttl."
    ),
    export: bool = typer.Option(False, "--export", help="Write the export first."),
    recommended: bool = typer.Option(
        True, help="Also check the recommended properties (their results are warnings)."
    ),
    warnings: bool = typer.Option(
        False, "--warnings", help="Also list the warnings, grouped by property and message."
    ),
) -> None:
    """Validate the HealthDCAT-AP export against the official R8 shapes, per access level.

    Offline, with the shapes and vocabularies vendored in catalog/validation/.
    Exits 1 when any level has violations.
    """
    from catalog.dcat import dcat_path
    from catalog.dcat import export_dcat as run
    from catalog.validation import validate_export

    path = file or dcat_path()
    if export:
        path, _ = run(path)
    reports = validate_export(path, recommended=recommended)
    table = Table("access level", "datasets", "violations", "warnings")
    for report in reports:
        table.add_row(
            report.level.value, str(report.datasets), str(report.violations), str(report.warnings)
        )
    console.print(f"HealthDCAT-AP R8 validation of {path}", highlight=False)
    console.print(table)
    failed = False
    for report in reports:
        grouped = Counter(
            (f.focus, f.path or "-", f.message[:200])
            for f in report.findings
            if f.severity == "Violation"
        )
        for (focus, prop, message), n in sorted(grouped.items()):
            failed = True
            console.print(
                f"{report.level.value}: {n} × {focus} {prop}: {message}",
                highlight=False,
            )
        if warnings:
            _print_warnings(report)
    if failed:
        raise typer.Exit(1)


@export_app.command("odcs")
def export_odcs() -> None:
    """Write one ODCS v3 data contract per product under <var>/catalog/odcs/."""
    from catalog.odcs import export_odcs as run

    paths = run()
    folder = paths[0].parent.parent if paths else "-"
    console.print(f"ODCS: {len(paths)} contracts → {folder}", highlight=False)
