"""All proposals for a registry and its facts, in a stable order; counts per entity type."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

from catalog.common import MCP
from catalog.datasets import dataset_mcps, platform_mcps
from catalog.domains import data_product_mcps, domain_mcps, glossary_mcps, tag_mcps
from catalog.facts import CatalogFacts, millis
from catalog.initiatives import initiative_mcps
from catalog.lineage import lineage_mcps
from catalog.links import CatalogueLinks
from catalog.people import corpuser_mcps
from catalog.profiling import profile_mcps
from catalog.properties import definition_mcps
from catalog.quality import assertion_mcps, run_event_mcps
from catalog.runs import flow_mcps, run_mcps
from regionlab.spec import Registry


def build_mcps(
    registry: Registry, facts: CatalogFacts, links: CatalogueLinks | None = None
) -> list[MCP]:
    """Every UPSERT proposal the catalogue holds for ``registry`` given ``facts``.

    ``links`` (from ``domains/catalog.yaml``) adds each product's links: site page,
    data contract, access application; without it the datasets carry none.

    Deterministic for fixed inputs (all time stamps come from ``facts``), which
    is what the golden-file tests pin. Entities come before the aspects that
    point at them, and time-series events come last, oldest first.
    """
    when = millis(facts.generated_at)
    mcps: list[MCP] = []
    mcps += tag_mcps(when)
    mcps += definition_mcps(when)
    mcps += corpuser_mcps(registry, when)
    mcps += glossary_mcps(registry, when)
    mcps += domain_mcps(registry, when)
    mcps += platform_mcps(registry, when)
    mcps += dataset_mcps(registry, facts, when, links)
    mcps += lineage_mcps(registry, when)
    mcps += data_product_mcps(registry, when)
    mcps += flow_mcps(registry, when)
    mcps += assertion_mcps(registry, facts, when)
    mcps += initiative_mcps(registry, facts, when)
    mcps += run_mcps(registry, facts)
    mcps += run_event_mcps(registry, facts)
    mcps += profile_mcps(registry, facts)
    return mcps


def entity_counts(mcps: Iterable[MCP]) -> dict[str, int]:
    """Distinct entities per DataHub entity type, e.g. ``{"dataset": 21, ...}``."""
    seen = {(m.entityType, m.entityUrn) for m in mcps}
    return dict(sorted(Counter(kind for kind, _ in seen).items()))
