"""Emit the whole catalogue to every configured sink: the one entry point callers share.

`regionlab catalog emit`, `regionlab run`, `regionlab demo` and the Dagster sensor
that follows pipeline runs all call :func:`emit_catalog`, so the catalogue follows
the data without anyone having to remember it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from catalog import emitted
from catalog.emit import build_mcps, entity_counts
from catalog.facts import millis
from catalog.labeling import labeling_mcps, load_manifests
from catalog.lake_facts import facts_from_lake
from catalog.links import region_links
from catalog.lite import lite_file
from catalog.mlmodels import load_model_facts, model_mcps
from catalog.removed import previous_urns, removed_mcps
from catalog.sinks import json_path, rest_target, write_json, write_lite, write_rest
from regionlab.spec import Registry, load_domains
from regionlab.steps import step


@dataclass
class EmitResult:
    proposals: int
    json_path: Path
    lite_written: int | None = None
    #: Proposals not written to Lite because Lite already holds the same aspect.
    lite_unchanged: int = 0
    #: Entities marked ``Status(removed=True)``: gone from the specs since an earlier emission.
    removed: int = 0
    rest_url: str | None = None
    counts: dict[str, int] = field(default_factory=dict)


def emit_catalog(registry: Registry | None = None, *, lite: bool = True) -> EmitResult:
    """Build the metadata from the specs and the lake and write it to every sink."""
    registry = registry or load_domains()
    with step("lake_facts"):
        facts = facts_from_lake(registry)
    when = millis(facts.generated_at)
    with step("build_proposals"):
        mcps = build_mcps(registry, facts, region_links())
        mcps += labeling_mcps(load_manifests(), when)
        mcps += model_mcps(load_model_facts(), when)
        # What the previous emission held and this one does not is soft-deleted. Lite's
        # entities are known from the digests of what was written to it while those
        # still describe the file; otherwise Lite is read.
        held = emitted.load(lite_file()) if lite else None
        if held is not None and held.valid:
            previous = previous_urns(json_path()) | held.urns()
        else:
            previous = previous_urns(json_path(), lite_file() if lite else None)
        ghosts = removed_mcps(previous, mcps, when)
    counts = entity_counts(mcps)
    mcps += ghosts
    with step("sink_json"):
        written = write_json(mcps)
    result = EmitResult(proposals=len(mcps), json_path=written, counts=counts, removed=len(ghosts))
    if held is not None:
        with step("sink_datahub_lite"):
            changed, digests = held.changed(mcps, when)
            result.lite_unchanged = len(mcps) - len(changed)
            result.lite_written = write_lite(changed) if changed else 0
            if changed or not held.valid:
                held.record(digests)
    target = rest_target()
    if target is not None:
        write_rest(mcps, *target)
        result.rest_url = target[0]
    return result
