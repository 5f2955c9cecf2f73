"""Does every place under ``var/`` that holds person data have an erasure store?

Used by the tests that build a real platform (the demo, the erase-everywhere
test): a writer that puts files in a folder no :data:`regionlab.settings.LOCATIONS`
entry declares, or a person-data location without a :class:`PersonStore`, fails them.
"""

from __future__ import annotations

from pathlib import Path

from regionlab.erasure.stores import STORES
from regionlab.settings import LOCATIONS


def location_of(var_dir: Path, path: Path) -> str | None:
    top = path.relative_to(var_dir).parts[0]
    for location in LOCATIONS:
        # profiles other than the default keep Dagster in dagster-<profile>/
        if top == location.folder or top.startswith(f"{location.folder}-"):
            return location.folder
    return None


def unclaimed_files(var_dir: Path) -> list[str]:
    """Files under ``var_dir`` in no declared location."""
    return sorted(
        str(p.relative_to(var_dir))
        for p in var_dir.rglob("*")
        if p.is_file() and location_of(var_dir, p) is None
    )


def locations_without_store() -> list[str]:
    covered = {folder for store in STORES for folder in store.locations}
    return sorted(loc.folder for loc in LOCATIONS if loc.person_data and loc.folder not in covered)


def assert_every_writer_has_a_store(var_dir: Path) -> None:
    assert unclaimed_files(var_dir) == [], "files in an undeclared var/ location"
    assert locations_without_store() == [], "person data with no erasure store"
