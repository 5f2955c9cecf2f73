"""`regionlab harden`: give var/ to the access service's OS account (multi-user profile)."""

from __future__ import annotations

from typing import Annotated

import typer

from cli.console import make_console

console = make_console()


def harden(
    owner: Annotated[
        str, typer.Option("--owner", help="The service's OS account, e.g. regionlab.")
    ],
) -> None:
    """Make the lake, key, quarantine, sources and audit store readable by the service only.

    Run as root once after installing and after adding a place; the catalogue stays
    readable by everyone. Then start `regionlab serve` as that account.
    """
    from regionlab.platform.zones import harden as harden_zones
    from regionlab.settings import get_settings

    for zone in harden_zones(get_settings(), owner):
        who = f"{owner} only" if zone.private else "everyone may read"
        console.print(f"{zone.folder}: {who}", highlight=False, markup=False)
