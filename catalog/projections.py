"""Every projection of the catalogue metadata, refreshed together after it is emitted.

The catalogue site, the HealthDCAT-AP export and the ODCS contracts are built from
the metadata and the lake; a run that refreshed only ``metadata.json`` left them
describing the previous run. Whoever emits after a run (``regionlab run``, the demo,
the Dagster sensor) calls :func:`refresh_projections` too.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from regionlab.errors import UserError


@dataclass
class Projections:
    site: Path | None = None
    dcat: Path | None = None
    datasets: int = 0
    odcs: list[Path] = field(default_factory=list)
    #: Projections that could not be built, with the reason in words.
    skipped: dict[str, str] = field(default_factory=dict)


def refresh_projections() -> Projections:
    """Rebuild the site and the exports; one that cannot be built says why, the rest still go."""
    from catalog.dcat import export_dcat
    from catalog.odcs import export_odcs
    from catalog.site.build import build_site

    out = Projections()
    try:
        out.site = build_site()
    except (UserError, OSError) as exc:  # e.g. the site's search library is not installed
        out.skipped["catalogue site"] = str(exc)
    try:
        out.dcat, out.datasets = export_dcat()
    except UserError as exc:
        out.skipped["HealthDCAT-AP"] = str(exc)
    try:
        out.odcs = export_odcs()
    except UserError as exc:
        out.skipped["ODCS"] = str(exc)
    return out
