"""Quality rules as DataHub assertions, and audit results as assertion run events.

One assertion per rule of the spec (plus one per extra check the platform
ran, e.g. the privacy gates), described by the rule's description, its Kahn
category and severity. A rule DataHub has a native type for (freshness,
volume, column checks: :mod:`catalog.assertion_kinds`) is emitted as that type,
the rest as CUSTOM; each product's rule assertions form its DataHub data
contract. A run event carries pass/fail and the counts — never the result's
``detail`` text, and never a value.
"""

from __future__ import annotations

from collections.abc import Iterator

from datahub.metadata.schema_classes import (
    AssertionInfoClass,
    AssertionResultClass,
    AssertionResultTypeClass,
    AssertionRunEventClass,
    AssertionRunStatusClass,
    AssertionSourceClass,
    AssertionSourceTypeClass,
    AssertionTypeClass,
    CustomAssertionInfoClass,
    DataContractPropertiesClass,
    DataContractStateClass,
    DataContractStatusClass,
    DataPlatformInstanceClass,
    DataQualityContractClass,
    FreshnessContractClass,
    StatusClass,
)

from catalog import urns
from catalog.assertion_kinds import Native, native_assertion, stream_freshness
from catalog.common import MCP, proposal, props, stamp
from catalog.facts import CatalogFacts, millis
from catalog.safety import safe_text
from regionlab.results import CheckResult, Status
from regionlab.spec import Product, Registry
from regionlab.streaming.tables import FRESHNESS_CHECK

_RESULT_TYPES = {
    Status.passed: AssertionResultTypeClass.SUCCESS,
    Status.failed: AssertionResultTypeClass.FAILURE,
    Status.errored: AssertionResultTypeClass.ERROR,
}


def _rule_text(rule: object) -> str:
    kind = getattr(rule, "type", "rule")
    columns = ", ".join(rule.columns_used()) if hasattr(rule, "columns_used") else ""
    return f"{kind} ({columns})" if columns else str(kind)


def _info(
    product: Product,
    check: str,
    kind: str,
    description: str,
    category: str,
    severity: str,
    columns: list[str],
    extra: dict[str, object],
    when: int,
    native: Native | None = None,
) -> AssertionInfoClass:
    """A native assertion where the rule has one (:mod:`catalog.assertion_kinds`), else CUSTOM."""
    dataset = urns.product_dataset(product)
    field = urns.schema_field(dataset, columns[0]) if len(columns) == 1 else None
    kind_of = native or {
        "type": AssertionTypeClass.CUSTOM,
        "customAssertion": CustomAssertionInfoClass(type=kind, entity=dataset, field=field),
    }
    return AssertionInfoClass(
        **kind_of,
        description=description,
        customProperties=props(
            {
                "product_ref": product.ref,
                "check": check,
                "kahn_category": category,
                "severity": severity,
                "columns": ", ".join(columns),
                **extra,
            }
        ),
        source=AssertionSourceClass(type=AssertionSourceTypeClass.EXTERNAL, created=stamp(when)),
        entityUrn=dataset,
    )


def _stream_freshness(product: Product, when: int) -> tuple[str, AssertionInfoClass]:
    """The spec's freshness objective; each micro-batch's result is in the quality history."""
    assert product.stream is not None
    objective = product.stream.freshness
    info = _info(
        product,
        FRESHNESS_CHECK,
        "freshness",
        f"{objective.percentile} % af hændelserne kan forespørges senest "
        f"{objective.max_lag_seconds:g} s efter hændelsestidspunktet.",
        "timeliness",
        "warning",
        [],
        {"source": "spec", "max_lag_seconds": objective.max_lag_seconds,
         "percentile": objective.percentile},
        when,
        stream_freshness(product, urns.product_dataset(product)),
    )  # fmt: skip
    return urns.assertion(product, FRESHNESS_CHECK), info


def assertion_mcps(registry: Registry, facts: CatalogFacts, when: int) -> Iterator[MCP]:
    platform = DataPlatformInstanceClass(platform=urns.platform(urns.QUALITY_PLATFORM))
    for product in sorted(registry.products.values(), key=lambda p: p.ref):
        declared: set[str] = set()
        contract: dict[bool, list[str]] = {True: [], False: []}  # freshness?, assertion urns
        for rule in product.quality:
            declared.add(rule.id)
            urn = urns.assertion(product, rule.id)
            info = _info(
                product,
                rule.id,
                rule.type,
                rule.description or _rule_text(rule),
                rule.kahn.value,
                rule.severity.value,
                rule.columns_used(),
                {"threshold": rule.threshold, "source": "spec", "rule_type": rule.type},
                when,
                native_assertion(rule, product, urns.product_dataset(product)),
            )
            yield proposal(urn, info, when)
            yield proposal(urn, platform, when)
            contract[info.type == AssertionTypeClass.FRESHNESS].append(urn)
        if product.stream is not None:
            urn, info = _stream_freshness(product, when)
            declared.add(FRESHNESS_CHECK)
            yield proposal(urn, info, when)
            yield proposal(urn, platform, when)
            contract[True].append(urn)
        yield from _contract_mcps(product, contract[True], contract[False], when)
        # Checks the platform ran that no spec rule declares (privacy gates, reconciliation).
        extra: dict[str, CheckResult] = {}
        runs = sorted(facts.quality.get(product.ref, []), key=lambda r: (r.checked_at, r.run_id))
        for run in runs:  # the newest run's wording wins
            for result in run.results:
                if result.check not in declared:
                    extra[result.check] = result
        for check, result in sorted(extra.items()):
            urn = urns.assertion(product, check)
            description = safe_text(result.description) or check
            info = _info(
                product,
                check,
                result.category,
                description,
                result.category,
                result.severity,
                [],
                {"source": "platform"},
                when,
            )
            yield proposal(urn, info, when)
            yield proposal(urn, platform, when)


def _contract_mcps(
    product: Product, freshness: list[str], quality: list[str], when: int
) -> Iterator[MCP]:
    """The product's data contract in DataHub: its spec rules' assertions, grouped as DataHub
    groups them (freshness, data quality). The full contract is the ODCS file it links."""
    if not freshness and not quality:
        return
    urn = urns.data_contract(product)
    yield proposal(
        urn,
        DataContractPropertiesClass(
            entity=urns.product_dataset(product),
            freshness=[FreshnessContractClass(assertion=a) for a in freshness] or None,
            dataQuality=[DataQualityContractClass(assertion=a) for a in quality] or None,
        ),
        when,
    )
    yield proposal(
        urn,
        DataContractStatusClass(
            state=DataContractStateClass.ACTIVE
            if product.offered
            else DataContractStateClass.PENDING
        ),
        when,
    )
    yield proposal(urn, StatusClass(removed=False), when)


def run_event_mcps(registry: Registry, facts: CatalogFacts) -> Iterator[MCP]:
    """Run events oldest first, so DataHub Lite's latest version is the newest run."""
    for ref in sorted(facts.quality):
        if ref not in registry.products:
            continue
        product = registry.products[ref]
        dataset = urns.product_dataset(product)
        for run in sorted(facts.quality[ref], key=lambda r: (r.checked_at, r.run_id)):
            at = millis(run.checked_at)
            for result in sorted(run.results, key=lambda r: r.check):
                urn = urns.assertion(product, result.check)
                event = AssertionRunEventClass(
                    timestampMillis=at,
                    runId=run.run_id,
                    asserteeUrn=dataset,
                    assertionUrn=urn,
                    status=AssertionRunStatusClass.COMPLETE,
                    result=AssertionResultClass(
                        type=_RESULT_TYPES[result.status],
                        rowCount=result.element_count,
                        unexpectedCount=result.unexpected_count,
                        # Counts and labels only: `detail` is deliberately never copied.
                        nativeResults=props(
                            {
                                "status": result.status.value,
                                "category": result.category,
                                "severity": result.severity,
                                "snapshot_id": run.snapshot_id,
                            }
                        ),
                    ),
                    runtimeContext=props({"snapshot_id": run.snapshot_id}),
                )
                yield proposal(urn, event, at)
