"""Structured properties (typed, filterable in DataHub's search) and browse paths.

Custom properties are free text a DataHub user can read but not filter on;
access level and legal basis are what a researcher narrows a search by, so
they are also DataHub structured properties: one definition each (emitted
once, with settings that put them in the search filters and the asset
summary) and the values on every product table.

Browse paths put each dataset under its domain and data product, the way the
catalogue site's crumbs read (domain → product).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from datahub.metadata.schema_classes import (
    BrowsePathEntryClass,
    BrowsePathsV2Class,
    PropertyCardinalityClass,
    PropertyValueClass,
    StructuredPropertiesClass,
    StructuredPropertyDefinitionClass,
    StructuredPropertySettingsClass,
    StructuredPropertyValueAssignmentClass,
)

from catalog import urns
from catalog.common import MCP, proposal, stamp
from catalog.quality_label import LABEL_LEVEL, LABEL_SCORE, LEVELS, NO_LEVEL
from regionlab.spec import Product
from regionlab.spec.vocab import AccessLevel

STRING = "urn:li:dataType:datahub.string"
NUMBER = "urn:li:dataType:datahub.number"
DATASET = "urn:li:entityType:datahub.dataset"

ACCESS_LEVEL = "regionlab.access_level"
LEGAL_BASIS = "regionlab.legal_basis"

_ACCESS_TEXT = {
    AccessLevel.public: "Offentlig: kan bruges af alle.",
    AccessLevel.restricted: "Begrænset: kræver aftale med dataejeren.",
    AccessLevel.non_public: "Ikke-offentlig: kun for godkendte projekter i et arbejdsområde.",
}


def definition(
    name: str,
    display: str,
    description: str,
    *,
    value_type: str = STRING,
    multiple: bool = False,
    allowed: Iterable[tuple[str | float, str]] = (),
) -> StructuredPropertyDefinitionClass:
    return StructuredPropertyDefinitionClass(
        qualifiedName=name,
        displayName=display,
        description=description,
        valueType=value_type,
        entityTypes=[DATASET],
        cardinality=PropertyCardinalityClass.MULTIPLE
        if multiple
        else PropertyCardinalityClass.SINGLE,
        allowedValues=[PropertyValueClass(value=v, description=d) for v, d in allowed] or None,
        immutable=False,
    )


def definitions() -> list[StructuredPropertyDefinitionClass]:
    """Every structured property regionlab sets."""
    return [
        definition(
            ACCESS_LEVEL,
            "Adgangsniveau",
            "EU-adgangsniveau (HealthDCAT-AP dct:accessRights) fra produktets spec.",
            allowed=[(level.value, _ACCESS_TEXT[level]) for level in AccessLevel],
        ),
        definition(
            LABEL_LEVEL,
            "EHDS-kvalitetsmærke",
            "Datakvalitets- og anvendelighedsmærke (EHDS art. 78), beregnet af platformen "
            "fra dokumentation, kvalitetshistorik, dækning, tilgængelighed og berigelser.",
            allowed=[(code, title) for _, code, title in LEVELS] + [NO_LEVEL],
        ),
        definition(
            LABEL_SCORE,
            "EHDS-kvalitetsscore",
            "Mærkets samlede score 0–100 (vægtet sum af mærkets elementer).",
            value_type=NUMBER,
        ),
        definition(
            LEGAL_BASIS,
            "Hjemmel",
            "Retsgrundlag for behandling og videreanvendelse: GDPR art. 6 og 9 og national lov.",
            multiple=True,
        ),
    ]


def definition_mcps(when: int) -> Iterator[MCP]:
    """The definitions, each shown in search filters and on the asset's summary."""
    for spec in definitions():
        urn = urns.structured_property(spec.qualifiedName)
        yield proposal(urn, spec, when)
        yield proposal(
            urn,
            StructuredPropertySettingsClass(
                showInSearchFilters=True, showInAssetSummary=True, lastModified=stamp(when)
            ),
            when,
        )


def legal_basis_values(product: Product) -> list[str]:
    legal = product.legal_basis
    gdpr = [f"GDPR {x}" for x in (legal.gdpr_article_6, legal.gdpr_article_9) if x]
    return [*gdpr, *legal.national]


def assignments(values: dict[str, list[str | float]], when: int) -> StructuredPropertiesClass:
    return StructuredPropertiesClass(
        properties=[
            StructuredPropertyValueAssignmentClass(
                propertyUrn=urns.structured_property(name), values=vals, created=stamp(when)
            )
            for name, vals in values.items()
            if vals
        ]
    )


def product_values(product: Product) -> dict[str, list[str | float]]:
    return {
        ACCESS_LEVEL: [product.access_level.value],
        LEGAL_BASIS: list(legal_basis_values(product)),
    }


def browse_path(product: Product) -> BrowsePathsV2Class:
    """Domain → data product, each entry an entity DataHub renders by name."""
    entries = [urns.domain(product.domain), urns.data_product(product)]
    return BrowsePathsV2Class(path=[BrowsePathEntryClass(id=u, urn=u) for u in entries])
