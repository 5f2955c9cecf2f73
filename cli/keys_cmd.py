"""`regionlab keys`: create and identify the pseudonymisation key.

The commands print the key id and where the key lives, never the key itself:
terminal output ends up in scrollback, CI logs and screenshots.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cli.console import make_console

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
