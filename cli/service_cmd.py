"""The access service's commands: ``serve``, ``users add|list|revoke`` and ``login``.

``serve`` runs the service in the foreground (uvicorn) or stops the embedded one
a client started; ``users`` is the built-in token issuer of the embedded profile
(run by whoever owns ``var/service``: the service's OS user in the multi-user
profile); ``login`` is the researcher's side, storing a token for the client.
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer
from rich.table import Table

from cli.console import make_console, styled

console = make_console()

users_app = typer.Typer(
    help="Users and tokens of the built-in issuer (embedded profile).", no_args_is_help=True
)


def serve(
    host: Annotated[
        str | None, typer.Option("--host", help="Address to listen on (default: settings).")
    ] = None,
    port: Annotated[
        int | None, typer.Option("--port", help="Port to listen on (default: settings).")
    ] = None,
    stop: Annotated[
        bool, typer.Option("--stop", help="Stop the embedded service a client started, and exit.")
    ] = False,
    status: Annotated[
        bool, typer.Option("--status", help="Say whether an embedded service runs, and exit.")
    ] = False,
    write_docs: Annotated[
        bool,
        typer.Option("--write-docs", help="Write docs/access.md and docs/openapi.json, and exit."),
    ] = False,
) -> None:
    """Run the access service: the one process that reads the lake for researchers."""
    from regionlab.research import client

    if write_docs:
        from regionlab.settings import PROJECT_ROOT
        from service.matrix import write_docs as write

        for path in write(PROJECT_ROOT):
            console.print(f"wrote {path}", highlight=False)
        return
    if stop:
        pid = client.stop_embedded()
        console.print("no embedded service was running" if pid is None else f"stopped {pid}")
        return
    if status:
        info = client.running_embedded()
        if info is None:
            console.print("no embedded service is running")
            raise typer.Exit(1)
        console.print(f"embedded service at {info['url']} (pid {info['pid']})", highlight=False)
        return
    import uvicorn

    from service.settings import load_service_settings

    settings = load_service_settings()
    host = host or settings.host
    port = settings.port if port is None else port
    console.print(
        f"access service on http://{host}:{port} (threshold floor {settings.min_cell}; "
        f"OIDC {'on' if settings.oidc.enabled else 'off'})",
        highlight=False,
    )
    uvicorn.run("service.app:serve_app", factory=True, host=host, port=port, log_level="info")


@users_app.command("add")
def users_add(
    name: Annotated[str, typer.Argument(help="User name, one word, e.g. anna.jensen.")],
    role: Annotated[str, typer.Option("--role", help="researcher, steward, labeller, ...")],
    replace: Annotated[
        bool, typer.Option("--replace", help="Issue a new token; the old one stops working.")
    ] = False,
) -> None:
    """Issue a token for a user; it is shown once, stored only as a hash, and audited."""
    from regionlab.errors import UserError
    from service.roles import Role
    from service.users import add_user

    try:
        parsed = Role(role)
    except ValueError:
        raise UserError(
            f"unknown role {role}; choose from {', '.join(r.value for r in Role)}"
        ) from None
    token = add_user(name, parsed, replace=replace)
    console.print(f"user {name} ({parsed.value}); token (shown once, store it now):")
    console.print(token, highlight=False, soft_wrap=True)
    console.print(
        "the user runs `regionlab login` and pastes it (or sets REGIONLAB_TOKEN)", style="dim"
    )


@users_app.command("list")
def users_list() -> None:
    """The built-in issuer's users, their roles and whether their token is revoked."""
    from service.app import token_store

    table = Table(title="Users of the built-in issuer")
    for col in ("name", "role", "issued", "state"):
        table.add_column(col)
    for user in token_store().users():
        table.add_row(
            user.name,
            user.role.value,
            user.issued_at.strftime("%Y-%m-%d %H:%M"),
            "revoked" if user.revoked else "active",
        )
    console.print(table)


@users_app.command("revoke")
def users_revoke(
    name: Annotated[str, typer.Argument(help="User whose token stops working now.")],
) -> None:
    """Revoke a user's token (``users add NAME --replace`` issues a new one)."""
    from service.users import revoke_user

    revoke_user(name)
    console.print(f"revoked the token of {name}")


def login(
    token: Annotated[
        str | None,
        typer.Option("--token", help="The token (default: read from standard input or a prompt)."),
    ] = None,
) -> None:
    """Store your token for the CLI and notebooks, after checking it with the service."""
    from regionlab.errors import UserError
    from regionlab.research.client import ServiceClient, store_token

    if token is None:
        token = typer.prompt("token", hide_input=True) if sys.stdin.isatty() else sys.stdin.read()
    token = token.strip()
    if not token:
        raise UserError("no token given; paste the token `regionlab users add` showed")
    me = ServiceClient(token=token).whoami()
    path = store_token(token)
    console.print(
        styled("logged in as [bold]{}[/] ({}); token stored in {}", me["name"], me["role"], path)
    )


__all__ = ["login", "serve", "users_app"]
