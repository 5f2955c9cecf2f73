"""`regionlab keys`: create and identify the pseudonymisation key.

The commands print the key id and where the key lives, never the key itself:
terminal output ends up in scrollback, CI logs and screenshots.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cli.console import make_console, styled

app = typer.Typer(
    help="Create or identify the pseudonymisation key (the key itself is never printed).",
    no_args_is_help=True,
)
console = make_console()


PathOption = Annotated[
    Path | None,
    typer.Option("--path", help="Where to write the key (default: <var>/secrets/pseudonym.key)."),
]
ForceOption = Annotated[
    bool,
    typer.Option(
        "--force", help="Replace an existing key (products keyed with it can no longer be joined)."
    ),
]


@app.command("init")
def init(path: PathOption = None, force: ForceOption = False) -> None:
    """Write a new random key (32 bytes, hex, file mode 0600)."""
    from regionlab.privacy.keys import KEY_FILE_ENV, init_key

    key = init_key(path, force=force)
    location = key.source.removeprefix("file ")
    console.print(f"key id: {key.key_id}", highlight=False, markup=False)
    console.print(f"written to: {location}", highlight=False, markup=False)
    if path is not None:
        console.print(
            f"use it with: export {KEY_FILE_ENV}={location}", highlight=False, markup=False
        )


@app.command("show")
def show() -> None:
    """Print the key id and where the key was found."""
    from regionlab.privacy.keys import KEY_ENV, KEY_FILE_ENV, load_key

    key = load_key()
    console.print(f"key id: {key.key_id}", highlight=False, markup=False)
    console.print(f"source: {key.source}", highlight=False, markup=False)
    console.print(
        f"(lookup order: {KEY_FILE_ENV}, then {KEY_ENV}, then <var>/secrets/pseudonym.key)",
        highlight=False,
        markup=False,
    )
    if key.source.startswith("file "):
        from regionlab.rotation.keyfiles import read_pending

        pending = read_pending(Path(key.source.removeprefix("file ")))
        if pending is not None:
            console.print(
                f"a key rotation to key id {pending.key_id} did not finish: run "
                "`regionlab keys rotate` again",
                highlight=False,
                markup=False,
            )


CprsOption = Annotated[
    Path | None,
    typer.Option(
        "--cprs",
        help="CPR numbers (one per line) to map besides the source zone's: erased persons "
        "whose deliveries are gone.",
    ),
]
DropOption = Annotated[
    bool,
    typer.Option(
        "--drop-unmapped",
        help="Remove the rows of persons whose CPR number is in neither the source zone nor "
        "--cprs (refused without it).",
    ),
]


@app.command("rotate")
def rotate(cprs: CprsOption = None, drop_unmapped: DropOption = False) -> None:
    """Re-key the lake, the suppression list, labels and workspaces with a new key.

    Holds every product's run lock; one lake transaction; the new key replaces the key
    file only after the commit, the old one is kept beside it (0600). Safe to re-run
    after a crash: it resumes where the commit left it.
    """
    from regionlab.erasure.requests import read_cpr_file
    from regionlab.errors import UserError
    from regionlab.rotation import rotate as rotate_keys

    if cprs is not None and not cprs.is_file():
        raise UserError(f"--cprs {cprs} does not exist (one CPR number per line)")
    extra = read_cpr_file(cprs) if cprs is not None else ()

    def say(line: str) -> None:
        console.print(line, highlight=False)

    report = rotate_keys(extra_cprs=extra, drop_unmapped=drop_unmapped, progress=say)
    rows = sum(report.rows.values())
    if report.resumed:
        console.print(
            styled(
                "[green]rotated[/]: finished the rotation to key {} committed earlier",
                report.new_key_id,
            ),
            highlight=False,
        )
    else:
        console.print(
            styled(
                "[green]rotated[/]: key {} → {}; {} rows in {} tables re-keyed, {} erased persons "
                "kept suppressed",
                report.old_key_id,
                report.new_key_id,
                rows,
                len(report.rows),
                report.suppressed,
            ),
            highlight=False,
        )
    if report.rows_dropped:
        console.print(f"rows dropped (persons not mappable): {sum(report.rows_dropped.values())}")
    if report.deliveries_unreadable:
        console.print(f"deliveries that could not be read: {report.deliveries_unreadable}")
    console.print(
        f"snapshots expired: {report.snapshots_expired}, files deleted: {report.files_deleted}, "
        f"catalogue: {report.vacuum}",
        highlight=False,
    )
    if report.label_exports:
        console.print(f"label exports re-keyed: {', '.join(sorted(report.label_exports))}")
    if report.workspaces_rebuilt:
        console.print(f"workspaces rebuilt: {', '.join(report.workspaces_rebuilt)}")
    for project, why in sorted(report.workspaces_removed.items()):
        console.print(f"workspace {project} removed (could not be rebuilt: {why})")
    for note in report.notes:
        console.print(styled("[yellow]note:[/] {}", note), highlight=False)
    console.print(f"old key kept in: {report.backup} (mode 0600)", highlight=False)
