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


@app.callback()
def _configure(ctx: typer.Context) -> None:
    """Resolve the configuration once and make it the active one for the command.

    A callback runs only when a command is invoked, so ``--help``, usage errors and
    shell completion never resolve the configuration (nor import the lake).
    """
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
    _register()
    try:
        app()
    except UserError as exc:
        print_error(exc)
        sys.exit(1)
