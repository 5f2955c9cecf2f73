"""``GET /lake/tables``: what is published, at which snapshot, how many rows — no rows.

Researchers used to open the lake themselves to see this (notebook 01); the
service answers it instead, so a researcher's process needs no lake access.
A table with fewer rows than the threshold floor shows the hidden marker.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel

from service.auth import allow
from service.identity import Identity
from service.roles import Role

router = APIRouter(tags=["lake"])


class LakeTables(BaseModel):
    snapshot: int
    """The lake's newest snapshot."""
    tables: dict[str, int | str]
    """Rows per published product (``domain.product``); small counts hidden."""
    in_memory_snapshot: int | None = None
    """The snapshot the service's in-memory copy for cohort queries holds (``None``: none
    yet); feasibility answers at that snapshot come from the copy."""


@router.get("/lake/tables", response_model=LakeTables)
def lake_tables(
    request: Request,
    who: Annotated[Identity, Depends(allow(Role.researcher, Role.steward, Role.strategy))],
) -> LakeTables:
    """The newest lake snapshot and the row count of each published product."""
    from regionlab import lake
    from regionlab.research.suppression import suppress_count

    floor = request.app.state.settings.min_cell
    pool = request.app.state.lake
    read = pool.lake_read()
    try:
        counts = lake.table_row_counts(read.con)
    finally:
        read.close()
    return LakeTables(
        snapshot=read.snapshot_id,
        in_memory_snapshot=pool.copied_snapshot(),
        tables={
            name: suppress_count(n, floor)
            for name, n in sorted(counts.items())
            if not name.startswith("_")
        },
    )
