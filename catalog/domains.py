"""Domains, data products, the regional glossary, and the classification and code-system tags."""

from __future__ import annotations

from collections.abc import Iterator

from datahub.metadata.schema_classes import (
    DataProductAssociationClass,
    DataProductPropertiesClass,
    DomainPropertiesClass,
    DomainsClass,
    GlossaryNodeInfoClass,
    GlossaryRelatedTermsClass,
    GlossaryTermInfoClass,
    StatusClass,
    TagPropertiesClass,
)

from catalog import urns
from catalog.common import MCP, ownership, proposal, props, tags, terms
from regionlab.spec import Registry
from regionlab.spec.vocab import Classification, CodeSystem

#: Descriptions of the classification tags, in the stewards' language.
CLASSIFICATION_TAGS: dict[Classification, tuple[str, str]] = {
    Classification.direct_identifier: (
        "Direkte identifikator",
        "Identificerer en person direkte (CPR-nummer, navn, adresse, telefon). "
        "Publiceres aldrig; erstattes af personnøglen eller fjernes.",
    ),
    Classification.pseudonym: (
        "Pseudonym",
        "Personnøgle (HMAC af CPR-nummeret): kobler en persons rækker på tværs af produkter "
        "med samme nøgle-id, men afslører ikke CPR-nummeret. Pseudonyme data er stadig "
        "personoplysninger.",
    ),
    Classification.quasi_identifier: (
        "Kvasi-identifikator",
        "Kan sammen med andre kolonner udpege en person (alder, køn, bopæl, datoer). "
        "Indgår i k-anonymitetskontrollen.",
    ),
    Classification.sensitive: (
        "Følsom oplysning",
        "Helbredsoplysning eller anden særlig kategori efter GDPR art. 9.",
    ),
}

#: The code systems a column's values come from, as the catalogue names them.
CODE_SYSTEM_TAGS: dict[CodeSystem, tuple[str, str]] = {
    CodeSystem.sks_diagnoses: (
        "SKS-diagnoser",
        "Diagnosekoder fra Sundhedsvæsenets Klassifikationssystem (SKS, D-koder; ICD-10).",
    ),
    CodeSystem.sks_procedures: (
        "SKS-procedurer",
        "Procedure- og behandlingskoder fra Sundhedsvæsenets Klassifikationssystem (SKS).",
    ),
    CodeSystem.npu: (
        "NPU",
        "Laboratorieanalyser efter NPU-terminologien (Nomenclature for Properties and Units).",
    ),
    CodeSystem.atc: (
        "ATC",
        "Lægemidler efter WHO's ATC-klassifikation (Anatomical Therapeutic Chemical).",
    ),
    CodeSystem.municipalities: (
        "Kommunekoder",
        "Danske kommunekoder (Danmarks Statistik / CPR), tre cifre.",
    ),
}


def domain_mcps(registry: Registry, when: int) -> Iterator[MCP]:
    for domain in sorted(registry.domains.values(), key=lambda d: d.id):
        urn = urns.domain(domain.id)
        yield proposal(
            urn,
            DomainPropertiesClass(
                name=domain.title,
                description=domain.description.strip(),
                customProperties={"regionlab_id": domain.id},
            ),
            when,
        )
        yield proposal(urn, ownership(domain.owners, when), when)


def data_product_mcps(registry: Registry, when: int) -> Iterator[MCP]:
    """One DataHub data product per spec product, holding its published table as output port."""
    for product in sorted(registry.products.values(), key=lambda p: p.ref):
        urn = urns.data_product(product)
        yield proposal(
            urn,
            DataProductPropertiesClass(
                name=product.title,
                description=product.description.strip(),
                assets=[
                    DataProductAssociationClass(
                        destinationUrn=urns.product_dataset(product), outputPort=True
                    )
                ],
                customProperties=props(
                    {
                        "product_ref": product.ref,
                        "status": product.status.value,
                        "purpose": product.purpose.strip(),
                        "access_level": product.access_level.value,
                        "keywords": ", ".join(product.keywords),
                    }
                ),
            ),
            when,
        )
        yield proposal(urn, DomainsClass(domains=[urns.domain(product.domain)]), when)
        yield proposal(urn, ownership(product.owners, when), when)
        if term_aspect := terms(product.glossary_terms, when):
            yield proposal(urn, term_aspect, when)
        classes = {c.classification for c in product.published_columns}
        if tag_aspect := tags(
            urns.classification_tag(c) for c in classes if c in CLASSIFICATION_TAGS
        ):
            yield proposal(urn, tag_aspect, when)


def tag_mcps(when: int) -> Iterator[MCP]:
    """Every classification and code-system tag, described, so DataHub shows what a chip means."""
    for classification, (name, description) in CLASSIFICATION_TAGS.items():
        urn = urns.classification_tag(classification)
        yield proposal(
            urn,
            TagPropertiesClass(
                name=f"classification:{classification}", description=f"{name}. {description}"
            ),
            when,
        )
    for code_system, (name, description) in CODE_SYSTEM_TAGS.items():
        yield proposal(
            urns.code_system_tag(code_system),
            TagPropertiesClass(
                name=f"code_system:{code_system}", description=f"{name}. {description}"
            ),
            when,
        )


def glossary_mcps(registry: Registry, when: int) -> Iterator[MCP]:
    """The regional glossary: one node per group, its terms beneath, related terms linked."""
    known = registry.glossary.term_ids()
    for node in registry.glossary.nodes:
        node_urn = urns.glossary_node(node.id)
        yield proposal(
            node_urn,
            GlossaryNodeInfoClass(definition=node.description.strip(), name=node.name, id=node.id),
            when,
        )
        for term in node.terms:
            term_urn = urns.glossary_term(term.id)
            yield proposal(
                term_urn,
                GlossaryTermInfoClass(
                    definition=term.definition.strip(),
                    termSource="INTERNAL",
                    name=term.name,
                    id=term.id,
                    parentNode=node_urn,
                ),
                when,
            )
            related = sorted(urns.glossary_term(r) for r in term.related if r in known)
            if related:
                yield proposal(term_urn, GlossaryRelatedTermsClass(relatedTerms=related), when)
            yield proposal(term_urn, StatusClass(removed=False), when)
