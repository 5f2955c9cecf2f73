"""``regionlab erase`` and ``regionlab retention apply``.

CPR numbers are read from a file (``--from-file``) or standard input only. A
command line is kept in shell history and shown in every user's process
list, so a CPR-shaped value anywhere on it makes the command refuse to run —
without repeating the value.
"""

from __future__ import annotations

import sys
from datetime import date, datetime
from pathlib import Path
from typing import Annotated

import typer

from cli.console import make_console, styled
from regionlab.errors import UserError

console = make_console()
err = make_console(stderr=True)

retention_app = typer.Typer(
    help="Enforce the retention periods from the product specs.", no_args_is_help=True
)

CPR_ON_COMMAND_LINE = (
    "refusing to run: {where} looks like a CPR number. A command line is kept in shell "
    "history and visible to other users in the process list, so CPR numbers must come from "
    "a file (--from-file cprs.txt, one per line) or standard input (e.g. `regionlab erase "
    "--request-id R-1 --reason ... < cprs.txt`). Remove the command from your shell history "
    "(`history -d <number>`)."
)


def refuse_cpr_arguments(values: dict[str, str | None]) -> None:
    """Raise UserError naming the argument (never its value) if any value holds a CPR shape."""
    from regionlab.erasure.requests import contains_cpr

    for where, value in values.items():
        if value is not None and contains_cpr(str(value)):
            raise UserError(CPR_ON_COMMAND_LINE.format(where=where))


def _print_receipt(receipt, path: Path) -> None:
    r = receipt.removed
    lines = [
        f"{receipt.kind} {receipt.request_id}: snapshot {receipt.lake_snapshot}",
        f"  lake rows removed: {sum(r.lake.values())} in {len(r.lake)} products",
        f"  labelled rows removed: {sum(r.labelled.values())}",
        f"  quarantine rows removed: {sum(r.quarantine.values())}",
        f"  workspaces touched: {len(r.workspaces)}",
        *(
            [
                f"  queued stream messages drained through the consumer: "
                f"{sum(r.stream_queues.values())}"
            ]
            if r.stream_queues
            else []
        ),
        f"  snapshots expired: {len(receipt.snapshots_expired)}, files deleted: "
        f"{receipt.files_deleted}",
        f"  verification: {'passed' if receipt.verification.passed else 'FAILED'} "
        f"({receipt.verification.data_files_scanned} data files decoded in "
        f"{receipt.verification.data_files_scan_seconds:.1f} s, "
        f"{receipt.verification.data_files_excluded_by_statistics} excluded by their "
        f"person-key statistics, "
        f"{len(receipt.verification.snapshots_scanned)} snapshots read)",
        f"  receipt: {path}",
    ]
    console.print("\n".join(lines), highlight=False)


def erase(
    stray: Annotated[
        list[str] | None,
        typer.Argument(hidden=True, show_default=False, help="Not accepted (see --from-file)."),
    ] = None,
    from_file: Annotated[
        Path | None,
        typer.Option(
            "--from-file", help="File with one CPR number per line (default: standard input)."
        ),
    ] = None,
    request_id: Annotated[
        str, typer.Option("--request-id", help="Case id of the request; names the receipt.")
    ] = "",
    reason: Annotated[
        str, typer.Option("--reason", help='Why, e.g. "indsigelse" (no identifiers).')
    ] = "",
    full_scan: Annotated[
        bool,
        typer.Option(
            "--full-scan",
            help="Decode every data file of the lake in the verification, not only those whose "
            "person-key statistics may hold the persons (the independent audit; slow at scale).",
        ),
    ] = False,
) -> None:
    """Erase persons everywhere (products, quarantine, labels, workspaces) with a receipt."""
    checked: dict[str, str | None] = {
        f"argument {i}": value for i, value in enumerate(stray or [], start=1)
    }
    checked |= {
        "--from-file": str(from_file) if from_file else None,
        "--request-id": request_id,
        "--reason": reason,
    }
    refuse_cpr_arguments(checked)
    if stray:
        raise UserError(
            "erase takes no arguments: give CPR numbers in a file (--from-file) or on standard "
            "input, and --request-id and --reason as options"
        )
    from regionlab.erasure import erase as run_erase
    from regionlab.erasure.receipt import receipt_path
    from regionlab.erasure.requests import (
        ErasureRequest,
        check_reason,
        check_request_id,
        read_cpr_file,
        read_cpr_stream,
    )

    if not request_id:
        raise UserError("--request-id is required (the case id of the request, e.g. R-2026-017)")
    rid = check_request_id(request_id)
    why = check_reason(reason)
    if from_file is not None:
        cprs = read_cpr_file(from_file)
    else:
        if sys.stdin.isatty():
            err.print("CPR numbers, one per line; end with Ctrl-D:")
        cprs = read_cpr_stream(sys.stdin)
    receipt = run_erase(ErasureRequest(request_id=rid, reason=why, cprs=cprs), full_scan=full_scan)
    _print_receipt(receipt, receipt_path(rid))
    if not receipt.verification.passed:
        err.print(
            styled(
                "[bold red]verification failed:[/] rows of the persons were still found (see the "
                "receipt's verification); make sure no pipeline ran meanwhile and run the request "
                "again with the same request id"
            )
        )
        raise typer.Exit(2)


@retention_app.command("apply")
def apply(
    as_of: Annotated[
        datetime | None,
        typer.Option("--as-of", formats=["%Y-%m-%d"], help="Reference day (default today)."),
    ] = None,
) -> None:
    """Delete rows past their product's retention period, expire snapshots, write a receipt."""
    from regionlab.erasure import apply_retention
    from regionlab.erasure.receipt import receipt_path

    day: date | None = as_of.date() if as_of else None
    receipt = apply_retention(day)
    _print_receipt(receipt, receipt_path(receipt.request_id))
    if not receipt.verification.passed:
        err.print(styled("[bold red]verification failed:[/] expired rows are still readable"))
        raise typer.Exit(2)


def erase_audit() -> None:
    """Audit every erasure so far: decode every data file of the lake (and the catalogue's
    rows) and search it for every person on the suppression list; report the duration."""
    from regionlab.erasure.audit import audit_erased

    report = audit_erased()
    console.print(
        f"erasure audit: {report.persons_listed} erased persons, "
        f"{report.data_files_scanned} data files and {report.catalog_tables_scanned} catalogue "
        f"tables decoded in {report.seconds:.1f} s: "
        f"{'passed' if report.passed else 'FAILED'}",
        highlight=False,
    )
    for place, n in sorted(report.rows_found.items()):
        console.print(f"  {place}: {n} rows", highlight=False)
    if not report.passed:
        raise typer.Exit(2)
