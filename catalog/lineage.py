"""Table and column lineage: source extract → source product, products → derived product.

Source products get column lineage straight from the spec (each published
column comes from one source column through its pseudonymisation rule).
Derived products get it from their SQL through DataHub's own parser
(``datahub.sql_parsing.sqlglot_lineage``) with a schema resolver filled from
the specs, so it runs offline and resolves ``SELECT *`` and unqualified
columns the way DataHub would for a real warehouse. DataHub pins the sqlglot
version its parser is written against; the project pins the same one.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

from datahub.metadata.schema_classes import (
    DatasetLineageTypeClass,
    FineGrainedLineageClass,
    FineGrainedLineageDownstreamTypeClass,
    FineGrainedLineageUpstreamTypeClass,
    UpstreamClass,
    UpstreamLineageClass,
)
from datahub.sql_parsing.schema_resolver import SchemaResolver
from datahub.sql_parsing.sqlglot_lineage import SqlParsingResult, sqlglot_lineage

from catalog import urns
from catalog.common import MCP, proposal, stamp
from regionlab.spec import Product, Registry
from regionlab.spec.vocab import Pseudonymisation

log = logging.getLogger(__name__)

#: Derived SQL names upstream tables `domain.product`; the lake's catalogue is the database.
SQL_DEFAULT_DB = urns.LAKE_PREFIX


def schema_resolver(registry: Registry) -> SchemaResolver:
    """A resolver that knows every published product's columns and types, no server needed."""
    resolver = SchemaResolver(platform=urns.PLATFORM, env=urns.ENV)
    for product in registry.products.values():
        resolver.add_raw_schema_info(
            urns.product_dataset(product),
            {c.name: c.type.value for c in product.published_columns},
        )
    return resolver


def parse_derived(product: Product, resolver: SchemaResolver) -> SqlParsingResult:
    assert product.derived is not None
    return sqlglot_lineage(
        product.derived.sql,
        schema_resolver=resolver,
        default_db=SQL_DEFAULT_DB,
        override_dialect="duckdb",
    )


def _source_lineage(product: Product, when: int) -> UpstreamLineageClass:
    source = urns.source_dataset(product)
    target = urns.product_dataset(product)
    fine = [
        FineGrainedLineageClass(
            upstreamType=FineGrainedLineageUpstreamTypeClass.FIELD_SET,
            downstreamType=FineGrainedLineageDownstreamTypeClass.FIELD,
            upstreams=[urns.schema_field(source, col.source_column)],
            downstreams=[urns.schema_field(target, col.name)],
            transformOperation=col.rule.value.upper()
            if col.rule is not Pseudonymisation.keep
            else "IDENTITY",
        )
        for col in product.published_columns
    ]
    return UpstreamLineageClass(
        upstreams=[
            UpstreamClass(
                dataset=source,
                type=DatasetLineageTypeClass.TRANSFORMED,
                auditStamp=stamp(when),
                properties={"via": "ingest → pseudonymise → audit → publish"},
            )
        ],
        fineGrainedLineages=fine,
    )


def _derived_lineage(product: Product, resolver: SchemaResolver, when: int) -> UpstreamLineageClass:
    """The spec's upstream list is authoritative for tables; the parser adds the columns."""
    target = urns.product_dataset(product)
    declared = [urns.product_dataset(ref) for ref in product.upstream]
    result = parse_derived(product, resolver)
    if result.debug_info.error is not None:
        log.warning(
            "column lineage of %s could not be computed: %s",
            product.ref,
            type(result.debug_info.error).__name__,
        )
    published = {c.name for c in product.published_columns}
    fine = []
    for info in result.column_lineage or []:
        column = info.downstream.column
        upstreams = sorted(
            {urns.schema_field(u.table, u.column) for u in info.upstreams if u.table in declared}
        )
        if column not in published or not upstreams:
            continue
        fine.append(
            FineGrainedLineageClass(
                upstreamType=FineGrainedLineageUpstreamTypeClass.FIELD_SET,
                downstreamType=FineGrainedLineageDownstreamTypeClass.FIELD,
                upstreams=upstreams,
                downstreams=[urns.schema_field(target, column)],
                transformOperation="IDENTITY"
                if info.logic is not None and info.logic.is_direct_copy
                else "SQL",
            )
        )
    return UpstreamLineageClass(
        upstreams=[
            UpstreamClass(
                dataset=up,
                type=DatasetLineageTypeClass.TRANSFORMED,
                auditStamp=stamp(when),
            )
            for up in declared
        ],
        fineGrainedLineages=sorted(fine, key=lambda f: f.downstreams or []) or None,
    )


def lineage_mcps(registry: Registry, when: int) -> Iterator[MCP]:
    resolver = schema_resolver(registry)
    try:
        for product in sorted(registry.products.values(), key=lambda p: p.ref):
            if product.derived is not None:
                aspect = _derived_lineage(product, resolver, when)
            else:
                aspect = _source_lineage(product, when)
            yield proposal(urns.product_dataset(product), aspect, when)
    finally:
        resolver.close()
