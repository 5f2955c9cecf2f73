"""The regionlab code location: every product in ``domains/`` becomes Dagster definitions.

`dagster dev -m pipelines.definitions` (or `make ui`) loads this module. Importing it
loads ``domains/`` and builds ``defs``; code that has a registry already imports
:func:`pipelines.build.build_definitions` instead.
"""

from __future__ import annotations

from pipelines.build import build_definitions
from regionlab.spec import load_domains

__all__ = ["build_definitions", "defs"]

defs = build_definitions(load_domains())
