"""The current snapshot of each product as DataHub sees a table: its profile and last update.

``datasetProfile`` carries the row count, the column count and per column the
null and distinct counts (count and share) — counts only. DataHub's profile can
also hold minimum, maximum, mean, median, quantiles, histograms and sample
values; regionlab never fills those, because for person-level and free-text
columns each of them would put a value in the catalogue.

``operation`` says when the product was last published (the commit time of its
current snapshot): DataHub shows it as the table's "last updated".
"""

from __future__ import annotations

from collections.abc import Iterator

from datahub.metadata.schema_classes import (
    DatasetFieldProfileClass,
    DatasetProfileClass,
    OperationClass,
    OperationSourceTypeClass,
    OperationTypeClass,
)

from catalog import urns
from catalog.common import ACTOR, MCP, proposal, props
from catalog.facts import CatalogFacts, ProductFacts, millis
from regionlab.spec import Product, Registry


def _share(part: int, total: int) -> float | None:
    return round(part / total, 6) if total else None


def dataset_profile(product: Product, state: ProductFacts) -> DatasetProfileClass | None:
    """Counts of the current snapshot, or None before the product's first publish."""
    if state.published_at is None or state.row_count is None:
        return None
    rows = state.row_count
    return DatasetProfileClass(
        timestampMillis=millis(state.published_at),
        rowCount=rows,
        columnCount=len(product.published_columns),
        fieldProfiles=[
            DatasetFieldProfileClass(
                fieldPath=col.name,
                nullCount=col.null_count,
                nullProportion=_share(col.null_count, rows),
                uniqueCount=col.distinct_count,
                uniqueProportion=_share(col.distinct_count, rows),
            )
            for col in state.columns
        ]
        or None,
    )


def last_operation(state: ProductFacts) -> OperationClass | None:
    """The publish that made the current snapshot (write–audit–publish replaces the table)."""
    if state.published_at is None:
        return None
    at = millis(state.published_at)
    return OperationClass(
        timestampMillis=at,
        lastUpdatedTimestamp=at,
        operationType=OperationTypeClass.UPDATE,
        actor=ACTOR,
        numAffectedRows=state.row_count,
        sourceType=OperationSourceTypeClass.DATA_PROCESS,
        customProperties=props({"snapshot_id": state.snapshot_id, "run_id": state.run_id}),
    )


def profile_mcps(registry: Registry, facts: CatalogFacts) -> Iterator[MCP]:
    """Profile and last operation of every published product, stamped with its publish time."""
    for product in sorted(registry.products.values(), key=lambda p: p.ref):
        state = facts.product(product.ref)
        urn = urns.product_dataset(product)
        for aspect in (dataset_profile(product, state), last_operation(state)):
            if aspect is not None:
                yield proposal(urn, aspect, aspect.timestampMillis)
