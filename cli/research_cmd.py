"""Research commands: feasibility counts, permits, workspaces and output checks.

Registered by ``cli`` as ``regionlab feasibility``, ``regionlab permit
...``, ``regionlab workspace ...`` and ``regionlab output check``. Everything
printed here is already suppressed or is metadata; no command prints a
pseudonym or a hidden count.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table
from rich.text import Text

from cli.console import make_console, styled

console = make_console()

permit_app = typer.Typer(
    help="Permits: researchers apply, access officers approve or refuse.", no_args_is_help=True
)
workspace_app = typer.Typer(help="Build and inspect project workspaces.", no_args_is_help=True)
output_app = typer.Typer(
    help="The airlock: pre-check, submit, and (output checkers) approve or refuse results.",
    no_args_is_help=True,
)


def _municipality_names() -> dict[str, str]:
    from regionlab import codelists

    return {row["code"]: row["name"] for row in codelists.records("municipalities")}


def _dates_text(dates: Any) -> str:
    """A permit's date protection in words (``regionlab.research.permits.DateProtection``)."""
    if dates.method == "coarsen":
        return f"dates coarsened to the {dates.granularity}"
    return f"dates shifted per person by up to {dates.max_shift_days} days"


def feasibility(
    cohort_file: Annotated[
        Path, typer.Argument(help="Cohort definition, e.g. cohorts/t2d_vejle.yaml.")
    ],
    by: Annotated[
        str, typer.Option("--by", help="Split by: sex, age_band, municipality (comma-separated).")
    ] = "",
    snapshot: Annotated[
        int | None, typer.Option("--snapshot", help="Lake snapshot to count at (default newest).")
    ] = None,
    threshold: Annotated[
        int | None,
        typer.Option(
            "--threshold", help="Hide counts below this (default and minimum: the service's floor)."
        ),
    ] = None,
    show_sql: Annotated[bool, typer.Option("--sql", help="Also print the compiled SQL.")] = False,
) -> None:
    """Count a cohort's unique persons through the access service; every query is audited."""
    from regionlab.research.client import feasibility as ask
    from regionlab.research.cohort import load_cohort

    cohort = load_cohort(cohort_file)
    result = ask(cohort, by, snapshot=snapshot, threshold=threshold)
    title = f"{result.cohort_name}: {result.total} persons (lake snapshot {result.snapshot_id})"
    console.print(title, highlight=False, style="bold")
    if result.cells:
        names = _municipality_names() if "municipality" in result.dimensions else {}
        table = Table()
        for dim in result.dimensions:
            table.add_column(dim)
        table.add_column("persons", justify="right")
        for cell in result.cells:
            labels = []
            for dim, value in zip(result.dimensions, cell.key, strict=True):
                text = str(value)
                if dim == "municipality" and text in names:
                    text = f"{text} {names[text]}"
                labels.append(text)
            style = "bold" if cell.margin else None
            table.add_row(*labels, str(cell.display), style=style)
        console.print(table)
    console.print(
        f"Counts below {result.threshold} are shown as {result.marker}, and further cells are "
        "hidden so that totals cannot reveal them.",
        highlight=False,
    )
    if result.rounding > 1:
        console.print(
            f"Shown counts are rounded to the nearest {result.rounding}.", highlight=False
        )
    for note in result.notes:
        console.print(f"note: {note}", highlight=False)
    if show_sql:
        from regionlab.research.cohort_sql import compile_cohort  # imports the specs

        console.print(compile_cohort(cohort).sql, highlight=False, markup=False)
    console.print(
        f"answered for {result.user} in {result.seconds:.2f} s; logged as {result.audit_entry_id}",
        highlight=False,
        style="dim",
    )


def _client() -> Any:
    """The access service with the caller's token: permits are decided there, not here."""
    from regionlab.research.client import ServiceClient

    return ServiceClient()


def _application(data: dict[str, Any]) -> Any:
    from service.routes.permits import ApplicationView

    return ApplicationView.model_validate(data)


@permit_app.command("apply")
def permit_apply(
    path: Annotated[Path, typer.Argument(help="Permit file, e.g. permits/t2d-hba1c.yaml.")],
) -> None:
    """Apply for a permit (researcher): checked against the specs, then pending a decision."""
    from regionlab.research.permits import load_permit

    permit = load_permit(path)  # read and checked here: the service gets the resolved permit
    body = permit.model_dump(mode="json", by_alias=True, exclude_none=True)
    application = _application(_client().apply(body))
    console.print(
        f"applied for {application.project_id} as {application.applicant}; an access officer "
        f"decides by {application.due.isoformat() if application.due else '-'}",
        highlight=False,
    )


@permit_app.command("approve")
def permit_approve(
    project: Annotated[str, typer.Argument(help="Project id of a pending application.")],
    replace: Annotated[
        bool, typer.Option("--replace", help="Replace the project's registered permit.")
    ] = False,
) -> None:
    """Approve an application and register its permit (access officer)."""
    permit = _application(_client().decide(project, "approve", replace=replace)).permit
    dates = _dates_text(permit.dates)
    console.print(
        f"approved and registered permit {permit.project_id} (expires "
        f"{permit.expires.isoformat()}, {len(permit.products)} product(s), {dates})",
        highlight=False,
    )
    console.print(f"next: regionlab workspace build {permit.project_id}", highlight=False)


@permit_app.command("refuse")
def permit_refuse(
    project: Annotated[str, typer.Argument(help="Project id of a pending application.")],
    reason: Annotated[str, typer.Option("--reason", help="Why, for the applicant.")],
) -> None:
    """Refuse an application with a reason (access officer); nothing is registered."""
    _client().decide(project, "refuse", reason=reason)
    console.print(f"refused the application for {project}", highlight=False)


@permit_app.command("incomplete")
def permit_incomplete(
    project: Annotated[str, typer.Argument(help="Project id of a pending application.")],
    reason: Annotated[str, typer.Option("--reason", help="What is missing.")],
) -> None:
    """Tell the applicant the application is incomplete; they have 4 weeks (access officer)."""
    application = _application(_client().decide(project, "incomplete", reason=reason))
    due = application.due.isoformat() if application.due else "-"
    console.print(f"{project}: incomplete; the applicant completes it by {due}", highlight=False)


@permit_app.command("list")
def permit_list() -> None:
    """Applications (yours, or all for an access officer): status, due dates, permit expiry."""
    apps = Table(title="Permit applications")
    for col in ("project", "applicant", "status", "submitted", "due", "expires", "reason"):
        apps.add_column(col)
    for a in map(_application, _client().applications()):
        due = f"{a.due_what} {a.due.isoformat()}" if a.due else "-"
        if a.overdue:
            due = styled("[bold red]{} (overdue)[/]", due)
        reason = Text(a.reason or "")  # the officer's words, printed as written
        expires = a.permit.expires.isoformat() + (" (expired)" if a.permit.expired() else "")
        apps.add_row(
            a.project_id, a.applicant, a.status, a.submitted_on.isoformat(), due, expires, reason
        )
    console.print(apps)


@workspace_app.command("build")
def workspace_build(
    project: Annotated[str, typer.Argument(help="Project id of a registered permit.")],
    snapshot: Annotated[
        int | None, typer.Option("--snapshot", help="Lake snapshot to pin (default newest).")
    ] = None,
) -> None:
    """Write the project's DuckDB workspace at one pinned lake snapshot, plus its manifest."""
    from regionlab.research.workspace import build_workspace, manifest_path

    manifest = build_workspace(project, snapshot=snapshot)
    table = Table(title=f"Workspace {project} at lake snapshot {manifest.lake_snapshot}")
    for col in ("table", "columns", "rows"):
        table.add_column(col)
    for p in manifest.products:
        table.add_row(p.table, ", ".join(p.columns), str(p.rows))
    console.print(table)
    console.print(f"file: {manifest.workspace_file}", highlight=False)
    console.print(f"manifest: {manifest_path(project)}", highlight=False)
    console.print(f"built in {manifest.build_seconds:.2f} s", highlight=False, style="dim")


@workspace_app.command("info")
def workspace_info(
    project: Annotated[str, typer.Argument(help="Project id.")],
) -> None:
    """Show a workspace's manifest summary."""
    from regionlab.research.workspace import read_manifest

    m = read_manifest(project)
    console.print(
        f"{m.project_id}: snapshot {m.lake_snapshot}, built {m.built_at.isoformat()}, "
        f"expires {m.permit['expires']}, tables {', '.join(p.table for p in m.products)}",
        highlight=False,
    )
    console.print(
        f"{_dates_text(m.dates)}; {'encrypted' if m.encrypted else 'NOT encrypted (rebuild it)'}",
        highlight=False,
    )


@workspace_app.command("provision")
def workspace_provision(
    project: Annotated[str, typer.Argument(help="Project id.")],
    owner: Annotated[
        str, typer.Option("--owner", help="The service's OS account, e.g. regionlab.")
    ],
    member: Annotated[
        list[str] | None, typer.Option("--member", help="An OS account of a project member.")
    ] = None,
) -> None:
    """Give the project's workspace folder to a per-project OS group (run as root)."""
    from regionlab.platform.project_groups import provision_project
    from regionlab.settings import get_settings

    access = provision_project(get_settings(), project, owner, list(member or []))
    console.print(
        f"{access.folder}: owner {owner}, group {access.group} "
        f"({', '.join(access.members) or 'no members yet'}); outputs/ writable by the group",
        highlight=False,
    )


@workspace_app.command("sweep")
def workspace_sweep(
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Only list what would be deleted.")
    ] = False,
) -> None:
    """Delete every workspace whose permit expired or is gone (with its key); write receipts."""
    from regionlab.research.workspace_sweep import sweep_workspaces

    receipts = sweep_workspaces(by="cli", dry_run=dry_run)
    if not receipts:
        console.print("no expired workspaces", highlight=False)
        return
    verb = "would delete" if dry_run else "deleted"
    for r in receipts:
        size = sum(f.bytes for f in r.files)
        console.print(
            f"{verb} {r.project_id} ({r.rule}): {len(r.files)} files, {size} bytes"
            + ("" if dry_run else f"; receipt {r.receipt_file}"),
            highlight=False,
        )


def _floor() -> int:
    """The service's floor (``min_cell``): a local pre-check may not go below it either."""
    from service.settings import load_service_settings

    return load_service_settings().min_cell


@output_app.command("check")
def output_check(
    file: Annotated[Path, typer.Argument(help="Result table (CSV any delimiter, or Parquet).")],
    threshold: Annotated[
        int | None,
        typer.Option(
            "--threshold", help="Smallest count allowed (default and minimum: the floor)."
        ),
    ] = None,
    names: Annotated[
        bool,
        typer.Option("--names/--no-names", help="Also look for person names from the name list."),
    ] = True,
) -> None:
    """Pre-check a result table locally; exit status 1 when it must change.

    The same rules the airlock runs (``regionlab output submit``), without
    differencing against the project's released outputs.
    """
    from regionlab.research.output_check import check_output

    known: list[str] = []
    if names:
        from regionlab import codelists

        known = codelists.load("names")["name"].to_list()
    report = check_output(file, threshold=threshold, floor=_floor(), known_names=known)
    console.print(report.render(), highlight=False, markup=False)
    if not report.ok:
        raise typer.Exit(1)


def _findings_text(sub: dict[str, Any]) -> str:
    lines = []
    for f in sub.get("findings", []):
        where = f"column '{f['column']}'" if f["column"] else "table"
        if f["rows"]:
            where += f", rows {', '.join(map(str, f['rows']))} ({f['n_rows']} in all)"
        lines.append(f"- [{f['severity']}:{f['kind']}] {where}: {f['problem']}. Fix: {f['fix']}.")
    return "\n".join(lines)


@output_app.command("submit")
def output_submit(
    project: Annotated[str, typer.Argument(help="Project id whose permit you hold.")],
    file: Annotated[Path, typer.Argument(help="Result table (CSV or Parquet).")],
    threshold: Annotated[
        int | None, typer.Option("--threshold", help="Smallest count (never below the floor).")
    ] = None,
) -> None:
    """Submit a result to the airlock: released when every rule passes, else queued."""
    sub = _client().submit_output(project, file, threshold=threshold)
    console.print(
        f"{sub['id']}: {sub['filename']} ({sub['table_class']} table) - verdict {sub['verdict']},"
        f" {sub['status']}",
        highlight=False,
        markup=False,
    )
    if sub["findings"]:
        console.print(_findings_text(sub), highlight=False, markup=False)
    if sub["status"] == "released":
        console.print(f"next: regionlab output fetch {sub['id']}", highlight=False)
    else:
        console.print("queued for an output checker; see `regionlab output list`", highlight=False)


@output_app.command("list")
def output_list(
    state: Annotated[
        str | None, typer.Option("--state", help="released, pending or refused.")
    ] = None,
) -> None:
    """Submitted outputs (yours, or all for an output checker)."""
    table = Table(title="Airlock")
    for col in (
        "id",
        "project",
        "file",
        "by",
        "class",
        "verdict",
        "status",
        "decided by",
        "reason",
    ):
        table.add_column(col)
    for s in _client().outputs(state):
        table.add_row(
            s["id"],
            s["project_id"],
            s["filename"],
            s["submitted_by"],
            s["table_class"],
            s["verdict"],
            s["status"],
            s["decided_by"] or "-",
            Text(s["reason"] or ""),
        )
    console.print(table)


@output_app.command("approve")
def output_approve(
    submission: Annotated[str, typer.Argument(help="Id of a queued output.")],
    reason: Annotated[str, typer.Option("--reason", help="Why it may leave.")],
) -> None:
    """Release a queued output (output checker; not your own)."""
    sub = _client().decide_output(submission, "approve", reason=reason)
    console.print(f"released {sub['id']} ({sub['filename']})", highlight=False)


@output_app.command("refuse")
def output_refuse(
    submission: Annotated[str, typer.Argument(help="Id of a queued output.")],
    reason: Annotated[str, typer.Option("--reason", help="Why, for the researcher.")],
) -> None:
    """Refuse a queued output with a reason (output checker)."""
    sub = _client().decide_output(submission, "refuse", reason=reason)
    console.print(f"refused {sub['id']} ({sub['filename']})", highlight=False)


@output_app.command("fetch")
def output_fetch(
    submission: Annotated[str, typer.Argument(help="Id of a released output.")],
    to: Annotated[Path, typer.Option("--to", help="Folder to write into.")] = Path("."),
) -> None:
    """Download a released output and its manifest."""
    target = _client().fetch_output(submission, to)
    console.print(f"wrote {target} and {target.name}.manifest.json", highlight=False)


__all__ = ["feasibility", "output_app", "permit_app", "workspace_app"]
