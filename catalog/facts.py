"""What the platform recorded, as the catalogue needs it: the caller fills :class:`CatalogFacts`.

The specs say what a product promises; the facts say what happened (last
snapshot, rows, freshness, key id, quality results, pipeline runs, the
initiatives register, retention and erasure counts). Keeping them in one
pydantic model lets the golden tests pin the emission with fixed facts, and
lets :mod:`catalog.lake_facts` fill the same model from the real lake.
"""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from catalog.erasure_facts import ErasureFacts
from catalog.lake_stats import ProductStats
from regionlab.results import CheckResult
from regionlab.spec import Product, Registry


class _Facts(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ColumnProfile(_Facts):
    """Counts about one published column of the current snapshot: never a value.

    Null and distinct counts only; no minimum, maximum, mean or sample, because
    for person-level and free-text columns any of those would be a value.
    """

    name: str
    null_count: int
    distinct_count: int


class ProductFacts(_Facts):
    """The current published state of one product."""

    snapshot_id: int | None = None
    row_count: int | None = None
    #: Date of the newest extract loaded (source products).
    newest_extract: dt.date | None = None
    #: When the current snapshot was committed.
    published_at: dt.datetime | None = None
    #: Streaming products: the newest event time published (UTC) and the newest
    #: micro-batch's p95 lag from event time to commit, in milliseconds.
    newest_event: dt.datetime | None = None
    lag_p95_ms: int | None = None
    #: Id of the pseudonymisation key (never the key): products with equal ids can be joined.
    key_id: str | None = None
    run_id: str | None = None
    #: ``<file>: <reason>`` when the product's newest delivery was rejected (value-free,
    #: from the delivery log): its previous snapshot is still the current one.
    last_delivery_rejected: str | None = None
    #: Per published column of the current snapshot: null and distinct counts.
    columns: list[ColumnProfile] = Field(default_factory=list)


class QualityRun(_Facts):
    """The results of one audit of one product."""

    run_id: str
    checked_at: dt.datetime
    snapshot_id: int | None = None
    results: list[CheckResult]


class PipelineRun(_Facts):
    """One run of the pipeline over some products (a Dagster run or a `regionlab run`)."""

    run_id: str
    started_at: dt.datetime
    ended_at: dt.datetime | None = None
    status: Literal["success", "failure", "running"]
    products: list[str] = Field(default_factory=list)


class Initiative(_Facts):
    """One row of the AI/automation initiatives register."""

    initiative_id: str
    name: str
    kind: str | None = None
    phase: str | None = None
    owner: str | None = None
    department: str | None = None
    ai_act_risk: str | None = None
    products: list[str] = Field(default_factory=list)
    started: dt.date | None = None
    description: str | None = None

    @field_validator("products", mode="before")
    @classmethod
    def _split(cls, value: object) -> object:
        """The register stores the product list as one `;`-separated text field."""
        if value is None:
            return []
        if isinstance(value, str):
            return [part.strip() for part in value.split(";") if part.strip()]
        return value


class CatalogFacts(_Facts):
    """Everything beyond the specs that the emission reads."""

    #: Time stamp for audit stamps and system metadata; fixed in tests so output is stable.
    generated_at: dt.datetime
    products: dict[str, ProductFacts] = Field(default_factory=dict)
    quality: dict[str, list[QualityRun]] = Field(default_factory=dict)
    runs: list[PipelineRun] = Field(default_factory=list)
    initiatives: list[Initiative] = Field(default_factory=list)
    #: Retention and erasure per product, from the erasure register (counts only).
    erasure: dict[str, ErasureFacts] = Field(default_factory=dict)
    #: Aggregates over each product's current snapshot (individuals, ages, coverage).
    stats: dict[str, ProductStats] = Field(default_factory=dict)

    def product(self, ref: str) -> ProductFacts:
        return self.products.get(ref) or ProductFacts()


def millis(value: dt.datetime | dt.date) -> int:
    """Epoch milliseconds, treating naive times as UTC (DataHub's convention)."""
    if not isinstance(value, dt.datetime):
        value = dt.datetime(value.year, value.month, value.day)
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return int(value.timestamp() * 1000)


def newest_extract(product: Product, registry: Registry, facts: CatalogFacts) -> dt.date | None:
    """The newest extract a product's rows come from: its own, or its sources' newest."""
    if product.source is not None:
        return facts.product(product.ref).newest_extract
    found: list[dt.date] = []
    seen: set[str] = set()
    todo = list(product.upstream)
    while todo:
        ref = todo.pop()
        if ref in seen or ref not in registry.products:
            continue
        seen.add(ref)
        upstream = registry.products[ref]
        if upstream.source is not None:
            if (day := facts.product(ref).newest_extract) is not None:
                found.append(day)
        else:
            todo.extend(upstream.upstream)
    return max(found) if found else None
