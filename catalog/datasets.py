"""Datasets: one per published product (DuckDB lake table) and one per source extract.

Column classification becomes a tag on the schema field, the column's glossary
terms become field terms, so a reader of the catalogue sees at a glance which
columns identify people — without the catalogue ever holding a value.

A column's code system (SKS, NPU, ATC, municipalities) is a ``code_system:<id>``
tag on the field as well, not a key in the field's ``jsonProps``: DataHub's UI
shows field tags as chips in the schema tab, links them to the tag's
description and indexes them (``fieldTags``), so "every column coded in ATC" is
one search; ``jsonProps`` is neither rendered nor searchable there.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from datahub.metadata.schema_classes import (
    BooleanTypeClass,
    DataPlatformInfoClass,
    DatasetPropertiesClass,
    DateTypeClass,
    DomainsClass,
    InstitutionalMemoryClass,
    InstitutionalMemoryMetadataClass,
    NumberTypeClass,
    OtherSchemaClass,
    PlatformTypeClass,
    SchemaFieldClass,
    SchemaFieldDataTypeClass,
    SchemaMetadataClass,
    StatusClass,
    StringTypeClass,
    SubTypesClass,
    TimeTypeClass,
)

from catalog import urns
from catalog.common import MCP, ownership, proposal, props, stamp, tags, terms
from catalog.domains import CLASSIFICATION_TAGS
from catalog.erasure_facts import custom_properties as erasure_properties
from catalog.facts import CatalogFacts, ProductFacts
from catalog.links import CatalogueLinks
from catalog.properties import assignments, browse_path, product_values
from catalog.quality_label import QualityLabel, label_properties, label_values, quality_label
from regionlab.spec import Product, Registry
from regionlab.spec.vocab import AccessLevel, Classification, CodeSystem, ColumnType

PRODUCT_SUBTYPE = "Data Product Table"
SOURCE_SUBTYPE = "Source Extract"

_TYPES = {
    ColumnType.varchar: StringTypeClass,
    ColumnType.integer: NumberTypeClass,
    ColumnType.bigint: NumberTypeClass,
    ColumnType.double: NumberTypeClass,
    ColumnType.boolean: BooleanTypeClass,
    ColumnType.date: DateTypeClass,
    ColumnType.timestamp: TimeTypeClass,
}


def _field(
    name: str,
    column_type: ColumnType,
    description: str,
    classification: Classification,
    glossary_terms: Iterable[str],
    nullable: bool,
    when: int,
    key: bool = False,
    code_system: CodeSystem | None = None,
) -> SchemaFieldClass:
    tag = [urns.classification_tag(classification)] if classification in CLASSIFICATION_TAGS else []
    if code_system is not None:
        tag.append(urns.code_system_tag(code_system))
    return SchemaFieldClass(
        fieldPath=name,
        type=SchemaFieldDataTypeClass(type=_TYPES[column_type]()),
        nativeDataType=column_type.duckdb,
        description=description.strip(),
        nullable=nullable,
        globalTags=tags(tag),
        glossaryTerms=terms(glossary_terms, when),
        isPartOfKey=key or None,
    )


def _schema(
    name: str, platform: str, fields: list[SchemaFieldClass], keys: list[str], when: int
) -> SchemaMetadataClass:
    return SchemaMetadataClass(
        schemaName=name,
        platform=urns.platform(platform),
        version=0,
        hash="",
        platformSchema=OtherSchemaClass(rawSchema=""),
        fields=fields,
        primaryKeys=keys or None,
        created=stamp(when),
        lastModified=stamp(when),
    )


def product_properties(
    product: Product, facts: CatalogFacts, label: QualityLabel | None = None
) -> dict[str, str]:
    """The custom properties of a product table: the spec's promises and the lake's state.

    Retention and erasure appear as the ``regionlab.*`` properties of
    :func:`catalog.erasure_facts.custom_properties` (counts and times only),
    when the facts carry them: the register is the one place they are named.
    """
    state = facts.product(product.ref)
    legal = product.legal_basis
    legal_text = "; ".join(
        x for x in [legal.gdpr_article_6, legal.gdpr_article_9, *legal.national] if x
    )
    retention = product.retention
    erasure = facts.erasure.get(product.ref)
    return props(
        {
            "product_ref": product.ref,
            "status": product.status.value,
            "purpose": product.purpose.strip(),
            "legal_basis": legal_text,
            "retention": f"{retention.years} år fra {retention.from_column}",
            "retention_justification": retention.justification.strip(),
            "access_level": product.access_level.value,
            "health_categories": ", ".join(c.value for c in product.health_categories),
            "quasi_identifiers": ", ".join(product.quasi_identifiers),
            "min_k": product.privacy.min_k,
            "k_anonymity": product.privacy.k_anonymity.value,
            "k_anonymity_justification": " ".join((product.privacy.justification or "").split()),
            "derived_from": ", ".join(product.upstream),
            "key_id": state.key_id,
            "last_snapshot": state.snapshot_id,
            "row_count": state.row_count,
            "freshness": _freshness(state),
            **_stream_properties(product, state),
            "published_at": state.published_at.isoformat() if state.published_at else None,
            "last_run_id": state.run_id,
            "last_delivery_rejected": state.last_delivery_rejected,
            **(erasure_properties(erasure) if erasure is not None else {}),
            **(label_properties(label) if label is not None else {}),
        }
    )


def _freshness(state: ProductFacts) -> str | None:
    """The newest data: an extract's date, or a streaming product's newest event (UTC)."""
    if state.newest_event is not None:
        return str(state.newest_event.isoformat(timespec="seconds")) + "Z"
    return state.newest_extract.isoformat() if state.newest_extract else None


def _stream_properties(product: Product, state: ProductFacts) -> dict[str, object]:
    if product.stream is None:
        return {}
    objective = product.stream.freshness
    return {
        "stream_topic": product.stream.topic,
        "stream_resource_types": ", ".join(t.value for t in product.stream.resource_types),
        "freshness_objective_s": f"{objective.max_lag_seconds:g}",
        "freshness_percentile": objective.percentile,
        "lag_p95_s": None if state.lag_p95_ms is None else f"{state.lag_p95_ms / 1000:.2f}",
    }


def institutional_memory(
    product: Product, links: CatalogueLinks, when: int
) -> InstitutionalMemoryClass:
    """Links a DataHub user follows: the site's product page, the data contract and, for a
    product offered under a permit, the access application on the access service."""
    found = [
        (links.product_page(product.ref), "Produktets side i regionens datakatalog"),
        (links.contract(product.ref), "Datakontrakt (ODCS): skema, kvalitetsregler, vilkår"),
    ]
    application = links.access_application(product.ref)
    if application and product.offered and product.access_level is not AccessLevel.public:
        found.append((application, "Ansøg om adgang (regionens adgangstjeneste)"))
    return InstitutionalMemoryClass(
        elements=[
            InstitutionalMemoryMetadataClass(url=url, description=text, createStamp=stamp(when))
            for url, text in found
        ]
    )


def product_dataset_mcps(
    product: Product,
    facts: CatalogFacts,
    when: int,
    links: CatalogueLinks | None = None,
    label: QualityLabel | None = None,
) -> Iterator[MCP]:
    urn = urns.product_dataset(product)
    yield proposal(
        urn,
        DatasetPropertiesClass(
            # DataHub shows `name` as the display name; the table name is the qualified name.
            name=product.title,
            qualifiedName=urns.product_dataset_name(product.domain, product.id),
            description=product.description.strip(),
            customProperties=product_properties(product, facts, label),
            tags=sorted(product.keywords),
        ),
        when,
    )
    fields = [
        _field(
            c.name,
            c.type,
            c.description,
            c.classification,
            c.glossary_terms,
            c.nullable,
            when,
            key=c.name in product.row_key,
            code_system=c.code_system,
        )
        for c in product.published_columns
    ]
    yield proposal(urn, _schema(product.table, urns.PLATFORM, fields, product.row_key, when), when)
    yield from _common(urn, product, PRODUCT_SUBTYPE, when)
    if term_aspect := terms(product.glossary_terms, when):
        yield proposal(urn, term_aspect, when)
    if links is not None:
        yield proposal(urn, institutional_memory(product, links, when), when)
    values = product_values(product) | (label_values(label) if label is not None else {})
    yield proposal(urn, assignments(values, when), when)


def _source_identity(product: Product) -> tuple[str, str, str, dict[str, object]]:
    """``(platform, name, description, properties)`` of an extract or a stream's topic."""
    if product.stream is not None:
        stream = product.stream
        return (
            urns.STREAM_PLATFORM,
            stream.topic,
            (stream.description or f"FHIR-hændelser på emnet {stream.topic}").strip(),
            {
                "format": "FHIR R4 (application/fhir+json)",
                "resource_types": ", ".join(t.value for t in stream.resource_types),
                "feeds_product": product.ref,
                "location": f"amqp queue {stream.topic}",
            },
        )
    assert product.source is not None
    source = product.source
    name = f"{source.system}.{source.extract}"
    return (
        source.system,
        name,
        (source.description or f"Udtræk fra {source.system}").strip(),
        {
            "format": source.format.value,
            "load": source.load.value,
            "feeds_product": product.ref,
            "location": f"<sources>/{source.system}/{source.extract}/",
        },
    )


def source_dataset_mcps(product: Product, when: int) -> Iterator[MCP]:
    """The raw extract as the source system delivers it (column names and classes, no values),
    or the topic a streaming product is fed by."""
    platform, name, description, properties = _source_identity(product)
    urn = urns.source_dataset(product)
    yield proposal(
        urn,
        DatasetPropertiesClass(
            name=name,
            qualifiedName=name,
            description=description,
            customProperties=props(properties),
        ),
        when,
    )
    fields = [
        _field(
            c.name,
            c.type,
            c.description,
            c.classification,
            c.glossary_terms,
            c.nullable,
            when,
            code_system=c.code_system,
        )
        for c in product.columns
    ]
    yield proposal(urn, _schema(name, platform, fields, [], when), when)
    yield from _common(urn, product, SOURCE_SUBTYPE, when)


def platform_mcps(registry: Registry, when: int) -> Iterator[MCP]:
    """The region's source systems are not DataHub built-ins: describe them as platforms."""
    systems = sorted({p.source.system for p in registry.products.values() if p.source})
    if registry.streams():
        systems = sorted({*systems, urns.STREAM_PLATFORM})
    for system in systems:
        yield proposal(
            urns.platform(system),
            DataPlatformInfoClass(
                name=system,
                displayName=system.upper(),
                type=PlatformTypeClass.OTHERS,
                datasetNameDelimiter=".",
            ),
            when,
        )


def dataset_mcps(
    registry: Registry, facts: CatalogFacts, when: int, links: CatalogueLinks | None = None
) -> Iterator[MCP]:
    for product in sorted(registry.products.values(), key=lambda p: p.ref):
        label = quality_label(product, registry, facts)
        yield from product_dataset_mcps(product, facts, when, links, label)
        if product.source is not None or product.stream is not None:
            yield from source_dataset_mcps(product, when)


def _common(urn: str, product: Product, subtype: str, when: int) -> Iterator[MCP]:
    yield proposal(urn, SubTypesClass(typeNames=[subtype]), when)
    yield proposal(urn, DomainsClass(domains=[urns.domain(product.domain)]), when)
    yield proposal(urn, ownership(product.owners, when), when)
    yield proposal(urn, StatusClass(removed=False), when)
    yield proposal(urn, browse_path(product), when)
