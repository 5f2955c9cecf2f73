"""`regionlab labeling ...`: run the project's Label Studio server, push tasks, pull labels.

The lead registers ``app`` under the main CLI; ``UserError`` is turned into one
line there. The password is printed only on request, so a start in a shared
terminal or CI log does not leak it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cli.console import make_console, styled

app = typer.Typer(help="Label Studio for the labelling team.", no_args_is_help=True)
server_app = typer.Typer(help="Run the project's Label Studio server.", no_args_is_help=True)
app.add_typer(server_app, name="server")
console = make_console(highlight=False)

NOT_RUNNING_EXIT = 3  # as LSB init scripts: "program is not running"


@server_app.command("start")
def start_cmd(
    port: Annotated[
        int | None,
        typer.Option("--port", help="Port on 127.0.0.1 (default: 8090, or a free one if taken)."),
    ] = None,
    from_template: Annotated[
        Path | None,
        typer.Option(
            "--from-template", help="Copy a prepared data folder instead of migrating afresh."
        ),
    ] = None,
    show_password: Annotated[
        bool, typer.Option("--show-password", help="Also print the admin password.")
    ] = False,
) -> None:
    """Start Label Studio in the background (or show the one already running)."""
    from labeling import server
    from labeling.credentials import read_credentials

    paths = server.LabelStudioPaths.resolve()
    if not (paths.data_dir / server.DB_NAME).exists() and from_template is None:
        console.print("First start: creating Label Studio's database (about a minute)...")
    running = server.start(port=port, from_template=from_template)
    console.print(f"Label Studio {running.version} at {running.url} (pid {running.pid})")
    console.print(f"login:    {running.email}")
    if show_password:
        password = read_credentials(paths.secrets_file).password.get_secret_value()
        console.print(f"password: {password}", markup=False)
    else:
        console.print(f"password: in {paths.secrets_file} (or use --show-password)")


@server_app.command("stop")
def stop_cmd() -> None:
    """Stop the background Label Studio server."""
    from labeling import server

    console.print("stopped" if server.stop() else "Label Studio was not running")


@server_app.command("status")
def status_cmd() -> None:
    """Say whether Label Studio runs, and where; exit status 3 when it does not."""
    from labeling import server

    running = server.status()
    if running is None:
        console.print("Label Studio is not running")
        raise typer.Exit(NOT_RUNNING_EXIT)
    console.print(f"Label Studio {running.version} at {running.url} (pid {running.pid})")
    console.print(f"login: {running.email}; log: {running.log_file}")


@app.command("push")
def push_cmd(
    product: Annotated[str, typer.Argument(help="Product, <domain>/<product> (or its id).")],
    task: Annotated[str, typer.Argument(help="Labelling task id from the product's YAML.")],
    limit: Annotated[
        int | None, typer.Option("--limit", help="Push only the first N of the sample.")
    ] = None,
) -> None:
    """Create or update the Label Studio project and import the task's sample."""
    from labeling.push import push

    result = push(product, task, limit=limit)
    console.print(f"project {result.title} (id {result.project_id}): {result.url}")
    console.print(
        f"sample {result.sampled} rows from snapshot {result.snapshot_id}: "
        f"{result.created} new tasks, {result.existing} already there"
    )
    if result.model_version:
        console.print(f"pre-annotations: {result.predictions} ({result.model_version})")


@app.command("pull")
def pull_cmd(
    product: Annotated[str, typer.Argument(help="Product, <domain>/<product> (or its id).")],
    task: Annotated[str, typer.Argument(help="Labelling task id from the product's YAML.")],
) -> None:
    """Validate the annotations, publish the labelled product and measure agreement."""
    from labeling.pull import pull

    result = pull(product, task)
    console.print(
        f"{result.labelled_product}: {result.rows} rows from {result.accepted} annotations "
        f"(snapshot {result.snapshot_id})"
    )
    if result.rejected:
        console.print(styled("[bold yellow]{} annotation(s) rejected:[/]", len(result.rejected)))
        for message in result.rejected:
            console.print(f"  {message}", markup=False)
    for k in result.kappas:
        value = "undefined" if k.kappa is None else f"{k.kappa:.3f}"
        console.print(f"kappa {k.control} {k.annotators[0]}~{k.annotators[1]}: {value}")
    for f in result.span_f1:
        if f.exact_f1 is not None:
            label = "all" if f.label == "*" else f.label
            console.print(
                f"span F1 {label} {f.annotators[0]}~{f.annotators[1]}: exact "
                f"{f.exact_f1:.3f}, overlap {f.overlap_f1:.3f}"
            )
    console.print(f"training export: {result.training_export}")
    console.print(f"manifest: {result.manifest}")
