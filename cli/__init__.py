"""The ``regionlab`` command line: the outermost ring, rendering only.

Each command group lives in its own module and calls into the layers
(``regionlab`` core, ``quality``, ``catalog``, ``labeling``, ``pipelines``)
inside its commands, so ``regionlab check`` stays fast. The configuration is
resolved once per invocation (:func:`regionlab.config.activate`) and every
layer reads that one object.
"""

from __future__ import annotations

import sys

import typer
from rich.console import Console

from regionlab.config import activate, resolve
from regionlab.errors import UserError

app = typer.Typer(
    name="regionlab",
    help="Data catalogue and feasibility lab for the region's health data.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
err_console = Console(stderr=True)


def _register() -> None:
    """Mount every command; each module imports its layer inside its commands, so a call
    loads only what it uses (``regionlab check`` never imports Dagster or DataHub)."""
    if app.registered_commands:
        return
    from cli import (
        catalog_cmd,
        check_cmd,
        demo_cmd,
        erasure_cmd,
        keys_cmd,
        labeling_cmd,
        quality_cmd,
        quarantine_cmd,
        research_cmd,
        run_cmd,
        synth_cmd,
    )

    app.command("check")(check_cmd.check)
    app.add_typer(keys_cmd.app, name="keys")
    app.command("synth")(synth_cmd.synth)
    app.command("run")(run_cmd.run)
    app.command("demo")(demo_cmd.demo)
    app.command("quality")(quality_cmd.quality)
    app.add_typer(
        quarantine_cmd.app, name="quarantine", help="Rows set aside by the pipelines: reasons."
    )
    app.command("feasibility")(research_cmd.feasibility)
    app.add_typer(research_cmd.permit_app, name="permit")
    app.add_typer(research_cmd.workspace_app, name="workspace")
    app.add_typer(research_cmd.output_app, name="output")
    app.command("erase")(erasure_cmd.erase)
    app.add_typer(erasure_cmd.retention_app, name="retention")
    app.add_typer(
        catalog_cmd.app,
        name="catalog",
        help="Catalogue: emit DataHub metadata, show a product, exports, site.",
    )
    app.add_typer(
        labeling_cmd.app,
        name="labeling",
        help="Label Studio for the labelling team: server, push, pull.",
    )


def main() -> None:
    """Entry point: turn user errors into one clear line and exit status 1."""
    _register()
    try:
        with activate(resolve().check()):
            code = app(standalone_mode=False)
        if isinstance(code, int) and code:
            sys.exit(code)
    except UserError as exc:
        err_console.print(f"[bold red]error:[/] {exc}")
        sys.exit(1)
    except (typer.Abort, KeyboardInterrupt):
        err_console.print("aborted")
        sys.exit(130)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except Exception as exc:  # click usage errors carry their own exit codes
        import click

        if isinstance(exc, click.ClickException):
            exc.show()
            sys.exit(exc.exit_code)
        raise
