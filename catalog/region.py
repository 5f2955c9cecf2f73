"""Read ``domains/catalog.yaml``, the region-wide catalogue facts, for the exports and the site.

The model is :class:`regionlab.spec.region.RegionCatalogue` (re-exported here),
so ``regionlab check`` validates the file with the other specs; this module
only finds and reads it, and reports problems exactly as the check does.
Per-product properties are derived from the specs and the lake (see
:mod:`catalog.dcat`).
"""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import ValidationError

from regionlab.errors import UserError
from regionlab.settings import get_settings
from regionlab.spec.problems import from_validation_error
from regionlab.spec.region import (
    CATALOG_FILE,
    FREQUENCIES,
    PUBLISHER_TYPES,
    Access,
    Agent,
    RegionCatalogue,
)

__all__ = [
    "CATALOG_FILE",
    "FREQUENCIES",
    "PUBLISHER_TYPES",
    "Access",
    "Agent",
    "RegionCatalogue",
    "catalog_file",
    "load_region",
]


def catalog_file(domains_dir: Path | None = None) -> Path:
    return (domains_dir or get_settings().domains_dir) / CATALOG_FILE


def load_region(path: Path | None = None) -> RegionCatalogue:
    """Read and validate ``domains/catalog.yaml``; a problem names the file, field and fix."""
    path = path or catalog_file()
    if not path.exists():
        raise UserError(
            f"no {CATALOG_FILE} at {path}: add the region's publisher, hdab, access and "
            "catalogue_url (copy domains/catalog.yaml from the repository)"
        )
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise UserError(f"{path}: not valid YAML ({exc}); fix the syntax") from exc
    try:
        return RegionCatalogue.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{p.field}: {p.message}" + (f" ({p.hint})" if p.hint else "")
            for p in from_validation_error(path, exc, data, RegionCatalogue)
        )
        raise UserError(f"{path}: {problems}; fix these fields") from None
