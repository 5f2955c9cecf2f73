"""Emit the whole catalogue to every configured sink: the one entry point callers share.

`regionlab catalog emit`, `regionlab run`, `regionlab demo` and the Dagster sensor
that follows pipeline runs all call :func:`emit_catalog`, so the catalogue follows
the data without anyone having to remember it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from catalog import emission_cache
from regionlab.steps import step

if TYPE_CHECKING:
    from regionlab.spec import Registry


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
    #: Nothing the emission reads changed since the last one: no sink was written
    #: (:mod:`catalog.emission_cache`).
    unchanged: bool = False


def emit_catalog(
    registry: Registry | None = None, *, lite: bool = True, now: dt.datetime | None = None
) -> EmitResult:
    """Build the metadata from the specs and the lake and write it to every sink.

    When nothing it reads changed since the last successful emission (and its files are
    as that emission left them), nothing is built or written: the result says so
    (``unchanged``). ``now`` is the emission's time stamp (default: the current time).
    """
    now = now or dt.datetime.now(dt.UTC)
    with step("fingerprint"):  # before DataHub, DuckDB or the specs are even imported
        given = registry  # what the fingerprint covers: the caller's registry, or domains/
        fp = emission_cache.fingerprint(given)
        rest = emission_cache.rest_configured()
        if fp is not None and not rest:
            previous = emission_cache.unchanged_result(
                fp,
                lite=lite,
                json_path=emission_cache.json_file(),
                lite_path=emission_cache.lite_path() if lite else None,
            )
            if previous is not None:
                return _unchanged(previous, lite=lite)
            emission_cache.forget_emission()  # written again only once every sink succeeded
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
    from regionlab.spec import load_domains

    registry = registry or load_domains()
    with step("lake_facts"):
        facts = emission_cache.cached_facts(fp.facts, now) if fp is not None else None
        if facts is None:
            facts = facts_from_lake(registry, now)
            # Kept only when nothing changed while it was read: the facts then belong to fp.
            if fp is not None and emission_cache.fingerprint(given) == fp:
                emission_cache.store_facts(fp.facts, facts)
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
    elif fp is not None and emission_cache.fingerprint(given) == fp:
        summary = asdict(result)
        del summary["json_path"], summary["rest_url"], summary["unchanged"]
        emission_cache.record_emission(fp, lite=lite, json_path=written, result=summary)
    return result


def _unchanged(previous: dict, *, lite: bool) -> EmitResult:
    """The result of an emission that found nothing new: the last one's, nothing written."""
    proposals = int(previous["proposals"])
    return EmitResult(
        proposals=proposals,
        json_path=emission_cache.json_file(),
        lite_written=0 if lite else None,
        lite_unchanged=proposals if lite else 0,
        removed=int(previous.get("removed", 0)),
        counts={str(k): int(v) for k, v in dict(previous.get("counts", {})).items()},
        unchanged=True,
    )
