"""The AI/automation initiatives register as DataHub ``application`` entities.

Why ``application``: an initiative is a piece of software the region builds
or buys (a prediction model, a triage tool, an RPA robot) that *consumes* data
products. DataHub 1.7 has a first-class ``application`` entity for exactly
that: ``applicationProperties`` (name, description, custom properties for
phase, AI Act risk class, kind, department), ``applicationLineage`` with input
edges to the datasets it reads, ownership, domains, tags, glossary terms and
sub-types; and assets (datasets, data products) carry an ``applications``
aspect that links back, so a product's page lists the initiatives that
depend on it. The alternatives fit worse: ``mlModel``/``mlModelGroup`` would
force RPA robots and early-phase ideas into a trained-model shape (training
data, metrics, versions they do not have); a ``dataFlow`` is a pipeline run
by an orchestrator; a ``dataProduct`` is something the region *publishes*,
not something that uses products; a ``container`` implies the products are
*inside* it. ``application`` is new in DataHub: a GMS older than the SDK may
not know ``applicationLineage`` (see the report in :mod:`catalog.sinks`).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterator

from datahub.metadata.schema_classes import (
    ApplicationLineageClass,
    ApplicationPropertiesClass,
    ApplicationsClass,
    DomainsClass,
    EdgeClass,
    StatusClass,
    SubTypesClass,
)

from catalog import urns
from catalog.common import MCP, proposal, props, stamp
from catalog.facts import CatalogFacts, Initiative
from regionlab.spec import Registry

log = logging.getLogger(__name__)

#: The domain that owns the register, when the registry has it.
REGISTER_DOMAIN = "initiatives"


def _subtype(initiative: Initiative) -> str:
    kind = (initiative.kind or "").strip()
    return f"{kind} Initiative" if kind else "Initiative"


def used_products(initiative: Initiative, registry: Registry) -> tuple[list[str], list[str]]:
    """(refs that exist in the registry, refs that do not) — the latter are never linked."""
    known = [ref for ref in dict.fromkeys(initiative.products) if ref in registry.products]
    unknown = [ref for ref in dict.fromkeys(initiative.products) if ref not in registry.products]
    return known, unknown


def initiative_mcps(registry: Registry, facts: CatalogFacts, when: int) -> Iterator[MCP]:
    users: dict[str, list[str]] = defaultdict(list)
    for initiative in sorted(facts.initiatives, key=lambda i: i.initiative_id):
        urn = urns.application(initiative.initiative_id)
        known, unknown = used_products(initiative, registry)
        if unknown:
            log.warning(
                "initiative %s names %d unknown product(s): %s",
                initiative.initiative_id,
                len(unknown),
                ", ".join(unknown),
            )
        yield proposal(
            urn,
            ApplicationPropertiesClass(
                name=initiative.name,
                description=initiative.description,
                customProperties=props(
                    {
                        "initiative_id": initiative.initiative_id,
                        "kind": initiative.kind,
                        "phase": initiative.phase,
                        "ai_act_risk": initiative.ai_act_risk,
                        "department": initiative.department,
                        "responsible": initiative.owner,
                        "started": initiative.started.isoformat() if initiative.started else None,
                        "products": ";".join(known),
                        "unresolved_products": ";".join(unknown),
                    }
                ),
            ),
            when,
        )
        yield proposal(urn, SubTypesClass(typeNames=[_subtype(initiative)]), when)
        yield proposal(
            urn,
            ApplicationLineageClass(
                inputEdges=[
                    EdgeClass(destinationUrn=urns.product_dataset(ref), created=stamp(when))
                    for ref in known
                ]
            ),
            when,
        )
        if REGISTER_DOMAIN in registry.domains:
            yield proposal(urn, DomainsClass(domains=[urns.domain(REGISTER_DOMAIN)]), when)
        yield proposal(urn, StatusClass(removed=False), when)
        for ref in known:
            users[ref].append(urn)
    # The back-links: each product's table and data product list the initiatives using it.
    # Every product gets the aspect (empty when unused): an UPSERT must also clear old links.
    for ref in sorted(registry.products):
        aspect = ApplicationsClass(applications=sorted(set(users.get(ref, []))))
        yield proposal(urns.product_dataset(ref), aspect, when)
        yield proposal(urns.data_product(ref), aspect, when)
