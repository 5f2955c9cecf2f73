"""The ``regionlab`` command line.

Each command group lives in its own module; outer layers (pipelines, catalogue,
labelling) are imported inside the commands so ``regionlab check`` stays fast
and the core never imports Dagster or DataHub at import time.
"""

from __future__ import annotations

import sys

import typer
from rich.console import Console

from regionlab.errors import UserError

app = typer.Typer(
    name="regionlab",
    help="Data catalogue and feasibility lab for the region's health data.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
err_console = Console(stderr=True)


def _register() -> None:
    from regionlab.cli import check_cmd, keys_cmd, synth_cmd

    app.add_typer(keys_cmd.app, name="keys")
    app.command("synth")(synth_cmd.synth)
    app.command("check")(check_cmd.check)


def main() -> None:
    """Entry point: turn user errors into one clear line and exit status 1."""
    _register()
    try:
        app(standalone_mode=False)
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
