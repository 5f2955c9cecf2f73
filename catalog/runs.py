"""The Dagster pipelines as a DataHub data flow, one job per product, each run an instance.

The flow is ``urn:li:dataFlow:(dagster,regionlab,PROD)``: the name DataHub's
own Dagster integration would give a code location called ``regionlab``, so
a production deployment that also runs that integration lands on the same
entity. A product run becomes a data process instance under its product's
job, with a STARTED and (once ended) a COMPLETE run event.
"""

from __future__ import annotations

from collections.abc import Iterator

from datahub.metadata.schema_classes import (
    DataFlowInfoClass,
    DataJobInfoClass,
    DataJobInputOutputClass,
    DataProcessInstanceInputClass,
    DataProcessInstanceOutputClass,
    DataProcessInstancePropertiesClass,
    DataProcessInstanceRelationshipsClass,
    DataProcessInstanceRunEventClass,
    DataProcessInstanceRunResultClass,
    DataProcessRunStatusClass,
    DataProcessTypeClass,
    DomainsClass,
    EdgeClass,
    RunResultTypeClass,
    StatusClass,
)

from catalog import urns
from catalog.common import MCP, ownership, proposal, props, stamp
from catalog.facts import CatalogFacts, PipelineRun, millis
from regionlab.spec import Product, Registry

_RESULTS = {"success": RunResultTypeClass.SUCCESS, "failure": RunResultTypeClass.FAILURE}


def _kind(product: Product) -> str:
    return "derived" if product.is_derived else "stream" if product.is_stream else "source"


def _inputs(product: Product) -> list[str]:
    if product.source is not None or product.stream is not None:
        return [urns.source_dataset(product)]
    return [urns.product_dataset(ref) for ref in product.upstream]


def flow_mcps(registry: Registry, when: int) -> Iterator[MCP]:
    flow = urns.flow()
    yield proposal(
        flow,
        DataFlowInfoClass(
            name="regionlab",
            description="Domænepipelines: ingest → pseudonymisering → audit → publicering "
            "i DuckLake, én Dagster-asset pr. dataprodukt.",
            customProperties={"code_location": "pipelines.definitions"},
            env=urns.ENV,
        ),
        when,
    )
    yield proposal(flow, StatusClass(removed=False), when)
    for product in sorted(registry.products.values(), key=lambda p: p.ref):
        job = urns.job(product)
        yield proposal(
            job,
            DataJobInfoClass(
                name=product.ref,
                type="DAGSTER_ASSET",
                flowUrn=flow,
                description=f"Bygger {product.title}.",
                customProperties=props(
                    {
                        "asset_key": f"{product.domain}/{product.id}",
                        "kind": _kind(product),
                    }
                ),
                env=urns.ENV,
            ),
            when,
        )
        yield proposal(
            job,
            DataJobInputOutputClass(
                inputDatasets=_inputs(product),
                outputDatasets=[urns.product_dataset(product)],
                inputDatajobs=[urns.job(ref) for ref in product.upstream] or None,
            ),
            when,
        )
        yield proposal(job, DomainsClass(domains=[urns.domain(product.domain)]), when)
        yield proposal(job, ownership(product.owners, when), when)


def _instance_mcps(run: PipelineRun, product: Product) -> Iterator[MCP]:
    urn = urns.run_instance(run.run_id, product)
    start = millis(run.started_at)
    yield proposal(
        urn,
        DataProcessInstancePropertiesClass(
            name=f"{product.ref} {run.run_id}",
            created=stamp(start),
            type=DataProcessTypeClass.BATCH_SCHEDULED,
            customProperties=props(
                {"run_id": run.run_id, "status": run.status, "products_in_run": len(run.products)}
            ),
        ),
        start,
    )
    yield proposal(
        urn,
        DataProcessInstanceRelationshipsClass(
            upstreamInstances=[], parentTemplate=urns.job(product)
        ),
        start,
    )
    inputs = _inputs(product)
    yield proposal(
        urn,
        DataProcessInstanceInputClass(
            inputs=inputs, inputEdges=[EdgeClass(destinationUrn=i) for i in inputs]
        ),
        start,
    )
    output = urns.product_dataset(product)
    yield proposal(
        urn,
        DataProcessInstanceOutputClass(
            outputs=[output], outputEdges=[EdgeClass(destinationUrn=output)]
        ),
        start,
    )
    yield proposal(
        urn,
        DataProcessInstanceRunEventClass(
            timestampMillis=start, status=DataProcessRunStatusClass.STARTED
        ),
        start,
    )
    if run.ended_at is not None and run.status in _RESULTS:
        end = millis(run.ended_at)
        yield proposal(
            urn,
            DataProcessInstanceRunEventClass(
                timestampMillis=end,
                status=DataProcessRunStatusClass.COMPLETE,
                durationMillis=max(end - start, 0),
                result=DataProcessInstanceRunResultClass(
                    type=_RESULTS[run.status], nativeResultType="dagster"
                ),
            ),
            end,
        )


def run_mcps(registry: Registry, facts: CatalogFacts) -> Iterator[MCP]:
    for run in sorted(facts.runs, key=lambda r: (r.started_at, r.run_id)):
        for ref in sorted(set(run.products)):
            if ref in registry.products:
                yield from _instance_mcps(run, registry.products[ref])
