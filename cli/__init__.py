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


#: Command groups whose modules import heavy libraries (DataHub, the Label Studio
#: SDK): imported only when that group is called, so `regionlab check` stays fast.
LAZY_GROUPS: dict[str, tuple[str, str]] = {
    "catalog": ("catalog.cli", "Catalogue: emit DataHub metadata, show a product, exports, site."),
    "labeling": ("labeling.cli", "Label Studio for the labelling team: server, push, pull."),
}


def _register(argv: list[str] | None = None) -> None:
    from regionlab.cli import (
        check_cmd,
        demo_cmd,
        erasure_cmd,
        keys_cmd,
        quality_cmd,
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
    app.command("feasibility")(research_cmd.feasibility)
    app.add_typer(research_cmd.permit_app, name="permit")
    app.add_typer(research_cmd.workspace_app, name="workspace")
    app.add_typer(research_cmd.output_app, name="output")
    app.command("erase")(erasure_cmd.erase)
    app.add_typer(erasure_cmd.retention_app, name="retention")
    argv = sys.argv[1:] if argv is None else argv
    for name, (module, help_text) in LAZY_GROUPS.items():
        if argv and argv[0] == name:
            import importlib

            app.add_typer(importlib.import_module(module).app, name=name, help=help_text)
        else:
            app.add_typer(typer.Typer(help=help_text), name=name)


def main() -> None:
    """Entry point: turn user errors into one clear line and exit status 1."""
    _register()
    try:
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
