"""``regionlab audit verify|show|checkpoint``: the access officer's and the DPO's commands.

Every command reaches the store through :func:`_audit`, the one place to switch
from the store itself to the access service's client (the same three calls,
``verify``, ``entries`` and ``checkpoint``, over HTTP with the officer's token).
Nothing printed holds a count that was hidden: entries hold displayed values
only, and ``verify`` names entries and kinds of problem, never a value.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from cli.console import make_console, styled
from regionlab.errors import UserError

if TYPE_CHECKING:
    from regionlab.research.audit_store import AuditStore

console = make_console()

app = typer.Typer(
    help="The access service's audit store: verify it, review a user's queries, checkpoint.",
    no_args_is_help=True,
)


def _audit() -> AuditStore:
    """The audit store (later: the service client, which answers the same three calls)."""
    from regionlab.research.audit_store import open_store

    return open_store()


def _since(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        if len(text) == 10:
            return datetime.combine(date.fromisoformat(text), datetime.min.time(), UTC)
        value = datetime.fromisoformat(text)
    except ValueError:
        raise UserError(
            "--since takes a date or a time, e.g. 2026-11-01 or 2026-11-01T08:00"
        ) from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


@app.command("verify")
def verify() -> None:
    """Check every entry's MAC chain and every signed checkpoint; exit 1 on any problem."""
    report = _audit().verify()
    for problem in report.problems:
        console.print(problem.line(), highlight=False)
    if report.problems:
        console.print(
            styled(
                "[red]{} problem(s)[/] in {} entries and {} checkpoints; the store has been "
                "changed outside the service — compare it with its backup and the checkpoints",
                len(report.problems),
                report.entries,
                report.checkpoints,
            )
        )
        raise typer.Exit(1)
    console.print(
        styled(
            "[green]ok[/]: {} entries chained with the service's key, {} checkpoints agree",
            report.entries,
            report.checkpoints,
        )
    )


@app.command("show")
def show(
    user: Annotated[str | None, typer.Option("--user", help="Only this user's entries.")] = None,
    since: Annotated[
        str | None, typer.Option("--since", help="From this date or time (UTC), e.g. 2026-11-01.")
    ] = None,
    queries_only: Annotated[
        bool, typer.Option("--queries", help="Only feasibility queries (no permit events).")
    ] = False,
) -> None:
    """Review a user's series of queries: what each asked, what changed, the answer's shape."""
    from regionlab.research.audit_review import review
    from regionlab.research.audit_store import FEASIBILITY

    entries = _audit().entries(user=user, since=_since(since))
    if queries_only:
        entries = [e for e in entries if e.action == FEASIBILITY]
    rows = review(entries)
    title = "Audit" + (f" of {user}" if user else "") + (f" since {since}" if since else "")
    table = Table(title=title, show_lines=True)
    for column in ("time (UTC)", "user", "action", "project", "cohort / change", "by", "answer",
                   "outcome", "entry"):  # fmt: skip
        table.add_column(column, overflow="fold", ratio=4 if column.startswith("cohort") else None)
    for r in rows:
        table.add_row(
            r.at.strftime("%Y-%m-%d %H:%M:%S"),
            r.user,
            r.action,
            r.project,
            r.what,
            r.dimensions,
            r.answer,
            r.outcome,
            r.entry[:12],
        )
    console.print(table)
    console.print(f"{len(rows)} entries", highlight=False)


@app.command("checkpoint")
def checkpoint() -> None:
    """Write a signed checkpoint of the chain's head now (also done every N entries)."""
    store = _audit()
    name = store.checkpoint()
    console.print(f"checkpoint {name} written to {store.checkpoints.path}", highlight=False)
    from regionlab.research.audit_keys import public_key_hex, signing_key

    console.print(
        f"public key (to check checkpoints without the service): "
        f"{public_key_hex(signing_key(store.signing_key_file, create=False))}",
        highlight=False,
    )


__all__ = ["app"]
