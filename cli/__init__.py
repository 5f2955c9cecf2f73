from __future__ import annotations

import sys

import typer

from cli.console import print_error
from regionlab.errors import UserError

app = typer.Typer(
    name="regionlab",
    help="Data catalogue and feasibility lab for the region's health data.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


#: Set by :func:`main` when the command line asks for help (``regionlab run --help``).
_help_requested = False


def _asks_for_help(argv: list[str]) -> bool:
    """Whether typer will print help: no arguments, or ``--help`` before any ``--``."""
    options = argv[: argv.index("--")] if "--" in argv else argv
    return not argv or "--help" in options


@app.callback()
def _configure(ctx: typer.Context) -> None:
    """Resolve the configuration once and make it the active one for the command.

    A callback runs only when a command is invoked, so ``regionlab --help``, usage
    errors and shell completion never resolve the configuration (nor import the
    lake). ``regionlab run --help`` does invoke it (typer runs a group's callback
    before it parses the subcommand's options), so it is skipped when help was
    asked for; a command that runs anyway resolves the configuration on first use
    (:func:`regionlab.config.current`).
    """
    if _help_requested:
        return
    from regionlab.config import activate, resolve

    ctx.with_resource(activate(resolve().check()))


def _register() -> None:
    """Mount every command; each module imports its layer inside its commands, so a call
    loads only what it uses (``regionlab check`` never imports Dagster or DataHub)."""
    if app.registered_commands:
        return
    from cli import (
        audit_cmd,
        catalog_cmd,
        check_cmd,
        demo_cmd,
        erasure_cmd,
        harden_cmd,
        keys_cmd,
        labeling_cmd,
        model_cmd,
        quality_cmd,
        quarantine_cmd,
        research_cmd,
        run_cmd,
        service_cmd,
        stream_cmd,
        synth_cmd,
    )

    app.command("check")(check_cmd.check)
    app.add_typer(keys_cmd.app, name="keys")
    app.command("harden")(harden_cmd.harden)
    app.add_typer(synth_cmd.app, name="synth")
    app.add_typer(stream_cmd.app, name="stream")
    app.command("run")(run_cmd.run)
    app.command("demo")(demo_cmd.demo)
    app.command("quality")(quality_cmd.quality)
    app.add_typer(model_cmd.app, name="model")
    app.command("validate")(model_cmd.validate)
    app.add_typer(
        quarantine_cmd.app, name="quarantine", help="Rows set aside by the pipelines: reasons."
    )
    app.command("feasibility")(research_cmd.feasibility)
    app.add_typer(research_cmd.permit_app, name="permit")
    app.add_typer(research_cmd.workspace_app, name="workspace")
    app.add_typer(research_cmd.output_app, name="output")
    app.command("serve")(service_cmd.serve)
    app.add_typer(service_cmd.users_app, name="users")
    app.command("login")(service_cmd.login)
    app.add_typer(
        audit_cmd.app, name="audit", help="The audit store: verify, review queries, checkpoint."
    )
    app.command("erase")(erasure_cmd.erase)
    app.command("erase-audit")(erasure_cmd.erase_audit)
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
    """Entry point. Typer runs in standalone mode, so a usage error (no arguments, an unknown
    command or option) prints the usage line and a hint and exits 2; a :class:`UserError`
    becomes one escaped ``error:`` line and exit status 1; neither shows a traceback."""
    global _help_requested
    _register()
    _help_requested = _asks_for_help(sys.argv[1:])
    if _help_requested:
        # Help is about to be printed: typer's renderer without Markdown and tracebacks.
        from cli.light_help import import_rich_utils

        import_rich_utils()
    try:
        app()
    except UserError as exc:
        print_error(exc)
        sys.exit(1)
    finally:
        _help_requested = False
