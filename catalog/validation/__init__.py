"""Validation of the HealthDCAT-AP export against the official shapes, offline.

The shapes and vocabularies are vendored beside this module (see ``NOTICE.md``
for source, version and licence of each file), so a clone validates without
network or anything outside the repository. :mod:`catalog.validation.shacl`
does the work; this package re-exports its entry points.
"""

from __future__ import annotations

from catalog.validation.shacl import (
    ROOT,
    Finding,
    LevelReport,
    level_of,
    load_shapes,
    load_vocabularies,
    validate_export,
    validate_graph,
)

__all__ = [
    "ROOT",
    "Finding",
    "LevelReport",
    "level_of",
    "load_shapes",
    "load_vocabularies",
    "validate_export",
    "validate_graph",
]
