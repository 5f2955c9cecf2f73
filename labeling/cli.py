"""`regionlab labeling ...`: run the project's Label Studio server.

The lead registers ``app`` under the main CLI; ``UserError`` is turned into one
line there. The password is printed only on request, so a start in a shared
terminal or CI log does not leak it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

app = typer.Typer(help="Label Studio for the labelling team.", no_args_is_help=True)
server_app = typer.Typer(help="Run the project's Label Studio server.", no_args_is_help=True)
app.add_typer(server_app, name="server")
console = Console(highlight=False)

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
