"""Entities that left the catalogue since the last emission are marked ``Status(removed=True)``.

Every proposal is an UPSERT, so a product deleted from ``domains/`` (or a rule,
an owner, a run, an initiative) would otherwise stay in DataHub Lite and in a
DataHub server as a ghost. The previous emission is known twice: the proposals
file ``<var>/catalog/metadata.json`` (rewritten by every emission) and, when
used, DataHub Lite itself (which also remembers emissions older than the file).
Every entity found there and not in the new proposals gets a soft delete —
DataHub's own way to hide an entity while keeping its history; a product that
comes back is emitted with ``Status(removed=False)`` again.

Ghosts stay in the proposals file with their removed status, so they keep
being marked on later emissions and the site (which reads that file) skips them.
Domains have no status aspect in DataHub: an emptied domain stays until it is
deleted by hand (``datahub delete --urn``).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from pathlib import Path

from datahub.emitter.mcp_builder import entity_supports_aspect
from datahub.metadata.schema_classes import KEY_ASPECTS, StatusClass
from datahub.utilities.urns.urn import guess_entity_type

from catalog.common import MCP, proposal


def _from_file(path: Path) -> set[str]:
    if not path.exists():
        return set()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return set()  # an unreadable file holds no ghosts we could name
    if not isinstance(data, list):
        return set()
    return {m["entityUrn"] for m in data if isinstance(m, dict) and m.get("entityUrn")}


def _from_lite(path: Path) -> set[str]:
    from catalog.lite import open_lite

    if not path.exists():
        return set()
    lite = open_lite(path, read_only=True)
    try:
        return set(lite.list_ids())
    finally:
        lite.close()


def previous_urns(json_file: Path, lite_file: Path | None = None) -> set[str]:
    """Every entity the last emissions wrote, from the proposals file and (if given) Lite."""
    found = _from_file(json_file)
    if lite_file is not None:
        found |= _from_lite(lite_file)
    return found


def removed_mcps(previous: Iterable[str], current: Sequence[MCP], when: int) -> list[MCP]:
    """``Status(removed=True)`` for each previous entity the new proposals no longer hold."""
    now = {m.entityUrn for m in current}
    out = []
    for urn in sorted(set(previous) - now):
        kind = guess_entity_type(urn)
        if kind in KEY_ASPECTS and entity_supports_aspect(kind, StatusClass):
            out.append(proposal(urn, StatusClass(removed=True), when))
    return out
