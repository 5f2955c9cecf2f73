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
users_app = typer.Typer(
    help="Annotator accounts (sign-up is by invitation only).", no_args_is_help=True
)
app.add_typer(users_app, name="users")
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
    test_set: Annotated[
        str | None,
        typer.Option(
            "--test-set",
            help="Push this model card's validation test set (stratified, seeded, with "
            "overlap) instead of the task's sample.",
        ),
    ] = None,
) -> None:
    """Create or update the Label Studio project and import the task's sample."""
    from labeling.push import push

    result = push(product, task, limit=limit, test_set=test_set)
    console.print(f"project {result.title} (id {result.project_id}): {result.url}")
    what = f"test set of {result.test_set}" if result.test_set else "sample"
    console.print(
        f"{what} {result.sampled} rows from snapshot {result.snapshot_id}: "
        f"{result.created} new tasks, {result.existing} already there"
    )
    if result.overlap_tasks:
        console.print(f"{result.overlap_tasks} task(s) go to more than one annotator")
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


@users_app.command("list")
def users_list_cmd() -> None:
    """List the accounts and the name each annotator's labels are recorded under."""
    from rich.table import Table

    from labeling.users import list_users

    table = Table("id", "e-mail", "name", "recorded as")
    for user in list_users():
        table.add_row(str(user.id), user.email, user.name, user.annotator)
    console.print(table)


@users_app.command("add")
def users_add_cmd(
    email: Annotated[str, typer.Argument(help="The annotator's work e-mail (their login).")],
) -> None:
    """Create an annotator account and print its first password once."""
    from labeling.users import add_user

    user, password = add_user(email)
    console.print(f"created {user.email} (id {user.id}); labels recorded as '{user.annotator}'")
    console.print(f"first password: {password.get_secret_value()}", markup=False, soft_wrap=True)
    console.print("hand it over in person; they change it under Account & Settings")


@users_app.command("invite")
def users_invite_cmd(
    reset: Annotated[
        bool, typer.Option("--reset", help="Make a new link; the old one stops working.")
    ] = False,
) -> None:
    """Print the organisation's invite link: whoever opens it signs up as an annotator."""
    from labeling.users import invite_link

    console.print(invite_link(reset=reset), markup=False, soft_wrap=True)
    console.print("anyone with this link can sign up: share it with the team only, then --reset")
