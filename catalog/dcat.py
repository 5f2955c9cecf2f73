"""HealthDCAT-AP (release 8) export: one ``dcat:Dataset`` per data product, as Turtle.

National and EU health data catalogues harvest HealthDCAT-AP. Every property
comes from one of three places, never invented per export:

- the product spec (title, description, purpose, legal basis, retention,
  access level, health categories, keywords, columns and code systems,
  upstreams, owners);
- the region-wide ``domains/catalog.yaml`` (:mod:`regionlab.spec.region`: publisher,
  HDAB, access application, catalogue address, language, delivery frequency);
- the lake (:mod:`catalog.lake_facts`, :mod:`catalog.lake_stats`: records,
  unique individuals, typical ages, temporal coverage, last publication) —
  aggregates only.

The shapes of the non-public level are the target (health products are
``NON_PUBLIC``); the tests validate the output with the official shapes.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

from rdflib import Graph, Literal, Namespace, URIRef
from rdflib.namespace import DCAT, DCTERMS, FOAF, RDF, RDFS, SKOS, XSD

from catalog.facts import CatalogFacts, newest_extract
from catalog.lake_facts import INITIATIVES
from catalog.lake_stats import ProductStats
from catalog.links import CatalogueLinks
from catalog.places import (
    GEONAMES_SCHEME,
    MUNICIPALITY_GEONAMES,
    REGION_GEONAMES,
    REGION_NUTS,
    dagi,
    geonames,
)
from catalog.quality_label import (
    DIMENSION_TITLES,
    DIMENSIONS,
    ELEMENT_TITLES,
    WEIGHTS,
    QualityLabel,
    quality_label,
)
from catalog.samples import ROWS, write_sample
from regionlab import codelists
from regionlab.settings import get_settings
from regionlab.spec import Product, Registry
from regionlab.spec.region import Agent, RegionCatalogue
from regionlab.spec.vocab import AccessLevel, CodeSystem, Pseudonymisation, Terminology

HEALTH = Namespace("http://healthdataportal.eu/ns/health#")
DCATAP = Namespace("http://data.europa.eu/r5r/")
DPV = Namespace("https://w3id.org/dpv#")
DPVPD = Namespace("https://w3id.org/dpv/dpv-pd#")
CSVW = Namespace("http://www.w3.org/ns/csvw#")
VCARD = Namespace("http://www.w3.org/2006/vcard/ns#")
CV = Namespace("http://data.europa.eu/m8g/")
ELI = Namespace("http://data.europa.eu/eli/ontology#")
GEODCATAP = Namespace("http://data.europa.eu/930/")
ADMS = Namespace("http://www.w3.org/ns/adms#")
DQV = Namespace("http://www.w3.org/ns/dqv#")
OA = Namespace("http://www.w3.org/ns/oa#")

EU = "http://publications.europa.eu/resource/authority/"
HDEU = "https://hdeu-dcat.data.health.europa.eu/resource/authority/"

#: Regulation (EU) 2025/327 (European Health Data Space) and the GDPR, by their ELI.
EHDS = URIRef("http://data.europa.eu/eli/reg/2025/327/oj")
GDPR = URIRef("http://data.europa.eu/eli/reg/2016/679/oj")

#: EU dataset types (``.../authority/dataset-type/<code>``). Aggregates are statistical
#: data; row-level data of synthetic persons is synthetic data. The table has no concept for
#: real pseudonymised microdata, so real row-level products get the region's own concept
#: (:data:`MICRODATA`) — honest, and flagged by the validator as not EU-managed.
STATISTICAL = "STATISTICAL"
SYNTHETIC_DATA = "SYNTHETIC_DATA"
MICRODATA = "dataset-type/MICRODATA"
#: The closest ADMS publisher type (the table DCAT-AP asks of a catalogue's publisher) to
#: each HealthDCAT-AP publisher type; ADMS has no health-specific concepts.
ADMS_TYPES = "http://purl.org/adms/publishertype/"
ADMS_PUBLISHER_TYPE = {
    "regional-authority": f"{ADMS_TYPES}RegionalAuthority",
    "national-authority": f"{ADMS_TYPES}NationalAuthority",
    "public-health-org": f"{ADMS_TYPES}NationalAuthority",
    "healthcare-providers": f"{ADMS_TYPES}RegionalAuthority",
    "other-government-agency": f"{ADMS_TYPES}NationalAuthority",
    "stat-agency": f"{ADMS_TYPES}NationalAuthority",
}
#: Region Syddanmark in the EU's NUTS classification (NUTS 2, 2021).
NUTS_REGION = REGION_NUTS
#: HealthDCAT-AP standards (``.../authority/standard/<code>``): every product is reached
#: through the access service's API (its OpenAPI document); coded products follow the
#: terminologies of their code systems (ICD-10 via SKS, NPU, ATC).
STANDARD_API = "API"
STANDARD_TERMINOLOGY = "TERMINOLOGY-ONTOLOGY-STANDARD"
#: HealthDCAT-AP health themes from the health categories: every product is health-system
#: data of the region's hospitals and registers; medicines data also concerns health products.
_THEMES_BY_CATEGORY = {"RMMD": "HEALTH_PRODUCTS"}
_DEFAULT_THEME = "HEALTH_SYSTEMS"
_ACCESS = {
    AccessLevel.public: "PUBLIC",
    AccessLevel.restricted: "RESTRICTED",
    AccessLevel.non_public: "NON_PUBLIC",
}
#: The region's code systems onto the HealthDCAT-AP coding-system table. SKS's
#: diagnosis chapter is the Danish national ICD-10; its procedures are national codes.
_CODING = {
    CodeSystem.sks_diagnoses: "ICD-10-NAT",
    CodeSystem.sks_procedures: "PROC-CODES-NAT",
    CodeSystem.npu: "NPU",
    CodeSystem.atc: "ATC",
}
#: Terminologies of columns without a single code list, onto the same table.
_TERMINOLOGY = {Terminology.npu: "NPU", Terminology.loinc: "LOINC"}
#: Personal-data categories (DPV-PD) derived from how a column is published.
_PD_BY_RULE = {
    Pseudonymisation.age_band: "Age",
    Pseudonymisation.birth_year: "Age",
    Pseudonymisation.municipality: "Location",
}
_PD_BY_CODE = {
    CodeSystem.sks_diagnoses: "HealthRecord",
    CodeSystem.sks_procedures: "HealthRecord",
    CodeSystem.npu: "MedicalHealth",
    CodeSystem.atc: "Prescription",
    CodeSystem.municipalities: "Location",
}
_PD_BY_NAME = {"sex": "Gender", "gender": "Gender", "age": "Age", "age_band": "Age"}
#: Health categories whose person-level rows are records of care.
_CARE_RECORDS = {"EHRS", "HRAD", "MRMR", "RMMD", "NRPE"}
#: Smallest time step a product resolves, from how its retention (row date) column is published.
_RESOLUTION = {"timestamp": "PT1S", "date": "P1D"}
_CSVW_TYPES = {
    "varchar": "string",
    "integer": "integer",
    "bigint": "integer",
    "double": "double",
    "boolean": "boolean",
    "date": "date",
    "timestamp": "dateTime",
}


def dcat_path() -> Path:
    return get_settings().catalog_dir / "healthdcat-ap.ttl"


def dataset_uri(region: RegionCatalogue, ref: str) -> URIRef:
    return URIRef(f"{str(region.catalogue_url).rstrip('/')}/dataset/{ref}")


def landing_page(region: RegionCatalogue, ref: str) -> URIRef:
    return URIRef(CatalogueLinks.from_region(region).product_page(ref))


def personal_data(product: Product, registry: Registry | None = None) -> list[str]:
    """DPV-PD categories of the personal data a product holds, from its published columns.

    An aggregate computed over person-level products (given ``registry``) is associated
    with the categories its cells are counted by (residence, age, sex), not with records.
    """
    if not product.published("person_key"):
        if registry is None or not _over_persons(product, registry):
            return []
        return sorted(
            {_PD_BY_CODE[c.code_system] for c in product.published_columns if c.code_system}
            | {_PD_BY_NAME[c.name] for c in product.published_columns if c.name in _PD_BY_NAME}
        )
    found: set[str] = set()
    for col in product.published_columns:
        if col.rule in _PD_BY_RULE:
            found.add(_PD_BY_RULE[col.rule])
        if col.code_system in _PD_BY_CODE:
            found.add(_PD_BY_CODE[col.code_system])
        if col.name in _PD_BY_NAME:
            found.add(_PD_BY_NAME[col.name])
        if col.classification == "sensitive" and col.code_system is None:
            found.add("MedicalHealth")
    if any(c.value in _CARE_RECORDS for c in product.health_categories):
        found.add("HealthRecord")
    return sorted(found)


def _over_persons(product: Product, registry: Registry) -> bool:
    """A derived product computed over at least one person-level upstream."""
    if product.derived is None:
        return False
    return any(
        u in registry.products and registry.products[u].published("person_key")
        for u in product.derived.upstream
    )


def standards(product: Product, with_service: bool, registry: Registry | None = None) -> list[str]:
    """HealthDCAT-AP standard codes the product conforms to (see :data:`STANDARD_API`)."""
    out = [STANDARD_API] if with_service else []
    if coding_systems(product, registry):
        out.append(STANDARD_TERMINOLOGY)
    return out


def temporal_resolution(product: Product) -> str | None:
    """ISO 8601 duration of the row date's precision (a month rule publishes months)."""
    column = product.published(product.retention.from_column)
    if column is None:
        return None
    if column.rule is Pseudonymisation.month:
        return "P1M"
    return _RESOLUTION.get(column.type.value)


def contract_url(region: RegionCatalogue, ref: str) -> URIRef:
    """Where the product's ODCS data contract is published beside the catalogue."""
    return URIRef(CatalogueLinks.from_region(region).contract(ref))


def is_row_level(product: Product) -> bool:
    """One row per person or event (it publishes a person key), not an aggregate."""
    return product.published("person_key") is not None


def dataset_types(product: Product, synthetic: bool) -> list[str]:
    """EU dataset-type codes (or, for real microdata, the region's own concept path).

    Aggregates are ``STATISTICAL``; computed from synthetic persons they are also
    ``SYNTHETIC_DATA``. Row-level products are never ``STATISTICAL``.
    """
    if is_row_level(product):
        return [SYNTHETIC_DATA] if synthetic else [MICRODATA]
    return [STATISTICAL, SYNTHETIC_DATA] if synthetic else [STATISTICAL]


def health_themes(product: Product) -> list[str]:
    """HealthDCAT-AP health-theme codes of a product, from its health categories."""
    themes = {_DEFAULT_THEME}
    themes |= {
        _THEMES_BY_CATEGORY[c.value]
        for c in product.health_categories
        if c.value in _THEMES_BY_CATEGORY
    }
    return sorted(themes)


def clamp_coverage(
    start: dt.date | None, end: dt.date | None, *limits: dt.date | None
) -> tuple[dt.date | None, dt.date | None]:
    """Temporal coverage never later than the data's extract date or its publication.

    Rows dated after the extract was taken (synthetic defects, data-entry errors) say
    nothing about the period the data covers; the earliest known limit caps both ends.
    """
    known = [d for d in limits if d is not None]
    if not known:
        return start, end
    cap = min(known)
    return (
        min(start, cap) if start is not None else None,
        min(end, cap) if end is not None else None,
    )


def coding_systems(product: Product, registry: Registry | None = None) -> list[str]:
    """HealthDCAT-AP coding systems of the product's coded columns and of its definition."""
    own = {_CODING[c.code_system] for c in product.published_columns if c.code_system in _CODING}
    own |= {_TERMINOLOGY[t] for c in product.published_columns for t in c.terminologies}
    return sorted(own | set(definition_codes(product, registry)))


_SQL_LITERAL = re.compile(r"'([^']+)'")


def definition_codes(product: Product, registry: Registry | None) -> dict[str, list[str]]:
    """Codes a derived product's SQL selects by, per coding system (``DE11%`` → ``DE11``).

    A string literal in the SQL counts when it is a code, or a code prefix, of a coded
    column of an upstream that the SQL names — the cohort's definition, from the spec.
    """
    if product.derived is None or registry is None:
        return {}
    sql = product.derived.sql
    literals = {m.rstrip("%") for m in _SQL_LITERAL.findall(sql)}
    out: dict[str, set[str]] = {}
    for ref in product.derived.upstream:
        upstream = registry.products.get(ref)
        if upstream is None:
            continue
        for col in upstream.published_columns:
            if col.code_system not in _CODING or col.name not in sql:
                continue
            known = codelists.codes(col.code_system.value)
            for literal in literals:
                if literal and any(code.startswith(literal) for code in known):
                    out.setdefault(_CODING[col.code_system], set()).add(literal)
    return {system: sorted(codes) for system, codes in sorted(out.items())}


class _Builder:
    def __init__(self, region: RegionCatalogue, lang: str = "da") -> None:
        self.g = Graph()
        self.region = region
        self.lang = lang
        self.base = str(region.catalogue_url).rstrip("/")
        self.service: URIRef | None = None
        for prefix, ns in {
            "dcat": DCAT,
            "dct": DCTERMS,
            "foaf": FOAF,
            "skos": SKOS,
            "healthdcatap": HEALTH,
            "dcatap": DCATAP,
            "dpv": DPV,
            "dpvpd": DPVPD,
            "csvw": CSVW,
            "vcard": VCARD,
            "cv": CV,
            "eli": ELI,
            "geodcatap": GEODCATAP,
            "adms": ADMS,
            "dqv": DQV,
            "oa": OA,
        }.items():
            self.g.bind(prefix, ns)
        self._agents: dict[str, URIRef] = {}

    def text(self, value: str) -> Literal:
        return Literal(" ".join(value.split()), lang=self.lang)

    def node(self, path: str) -> URIRef:
        return URIRef(f"{self.base}/{path}")

    def typed(self, uri: str, cls: URIRef) -> URIRef:
        ref = URIRef(uri)
        self.g.add((ref, RDF.type, cls))
        return ref

    def agent(self, key: str, agent: Agent) -> URIRef:
        if key in self._agents:
            return self._agents[key]
        g = self.g
        ref = self.node(f"agent/{key}")
        g.add((ref, RDF.type, FOAF.Agent))
        g.add((ref, FOAF.name, self.text(agent.name)))
        g.add((ref, DCTERMS.type, URIRef(f"{HDEU}publisher-type/{agent.type}")))
        contact = self.node(f"agent/{key}/contact")
        g.add((contact, RDF.type, CV.ContactPoint))
        g.add((contact, CV.email, Literal(str(agent.email))))
        g.add((contact, CV.contactPage, URIRef(str(agent.url))))
        g.add((ref, CV.contactPoint, contact))
        self._agents[key] = ref
        return ref

    def distribution(self, path: str, title: str, description: str, access: URIRef) -> URIRef:
        """A ``dcat:Distribution`` under EHDS reached at ``access``."""
        dist = self.node(path)
        self.g.add((dist, RDF.type, DCAT.Distribution))
        self.g.add((dist, DCTERMS.title, self.text(title)))
        self.g.add((dist, DCTERMS.description, self.text(description)))
        self.g.add((dist, DCAT.accessURL, access))
        self.g.add((dist, DCATAP.applicableLegislation, EHDS))
        return dist

    def region_location(self) -> URIRef:
        """Region Syddanmark as a GeoNames feature that is NUTS 2 region DK03."""
        ref = self.typed(str(geonames(REGION_GEONAMES)), DCTERMS.Location)
        if (ref, SKOS.prefLabel, None) not in self.g:
            self.g.add((ref, SKOS.inScheme, GEONAMES_SCHEME))
            self.g.add((ref, SKOS.prefLabel, self.text(self.region.publisher.name)))
            self.g.add((ref, DCTERMS.identifier, Literal("DK03")))
            self.g.add((ref, SKOS.exactMatch, NUTS_REGION))
        return ref

    def municipality(self, code: str) -> URIRef:
        """A municipality (kommunekode) as a GeoNames feature in the region."""
        ref = self.typed(str(geonames(MUNICIPALITY_GEONAMES[code])), DCTERMS.Location)
        if (ref, SKOS.prefLabel, None) not in self.g:
            self.g.add((ref, SKOS.inScheme, GEONAMES_SCHEME))
            self.g.add((ref, SKOS.prefLabel, self.text(f"{_municipality_name(code)} Kommune")))
            self.g.add((ref, DCTERMS.identifier, Literal(f"{int(code):04d}")))
            self.g.add((ref, SKOS.exactMatch, dagi(code)))
            self.g.add((ref, SKOS.broader, self.region_location()))
        return ref

    def period(self, path: str, start: dt.date | None, end: dt.date | None) -> URIRef | None:
        if start is None and end is None:
            return None
        ref = self.node(path)
        self.g.add((ref, RDF.type, DCTERMS.PeriodOfTime))
        if start is not None:
            self.g.add((ref, DCAT.startDate, Literal(start, datatype=XSD.date)))
        if end is not None:
            self.g.add((ref, DCAT.endDate, Literal(end, datatype=XSD.date)))
        return ref


def _municipality_name(code: str) -> str:
    names = codelists.load("municipalities")
    return str(names.filter(names["code"] == code)["name"].item())


def _add_years(day: dt.date, years: int) -> dt.date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February
        return day.replace(year=day.year + years, day=28)


def _variables(b: _Builder, product: Product) -> URIRef:
    g = b.g
    group = b.node(f"variables/{product.ref}")
    table = b.node(f"variables/{product.ref}/table")
    g.add((group, RDF.type, CSVW.TableGroup))
    g.add((group, DCTERMS.title, b.text(f"Variabler i {product.title}")))
    g.add((group, CSVW.table, table))
    g.add((table, RDF.type, CSVW.Table))
    g.add((table, DCTERMS.title, b.text(f"Tabellen {product.table} i regionens datasø")))
    for keyword in product.keywords:
        g.add((table, DCAT.keyword, b.text(keyword)))
    for col in product.published_columns:
        node = b.node(f"variables/{product.ref}/{col.name}")
        g.add((table, CSVW.column, node))
        g.add((node, RDF.type, CSVW.Column))
        g.add((node, CSVW.name, Literal(col.name)))
        g.add((node, CSVW.title, b.text(col.name.replace("_", " "))))
        g.add((node, CSVW.datatype, Literal(_CSVW_TYPES[col.type.value])))
        g.add((node, DCTERMS.description, b.text(col.description)))
    return group


def _access_service(b: _Builder) -> URIRef | None:
    """The access service as a ``dcat:DataService``: where access is applied for and counts asked.

    Distributions name it as their ``dcat:accessService`` so a national catalogue links to the
    service's API (described by its OpenAPI document) instead of to a page anchor.
    """
    url = b.region.access.service_url
    if url is None:
        return None
    g, base = b.g, str(url).rstrip("/")
    svc = b.node("service/access")
    g.add((svc, RDF.type, DCAT.DataService))
    g.add((svc, DCTERMS.title, b.text(f"{b.region.publisher.name}s adgangstjeneste")))
    g.add(
        (
            svc,
            DCTERMS.description,
            b.text(
                "Ansøgning om dataadgang og afgørelse, gennemførlighedsoptællinger med små "
                "celler skjult og et revisionsspor. Kræver et personligt token."
            ),
        )
    )
    g.add((svc, DCAT.endpointURL, URIRef(base)))
    g.add((svc, DCAT.endpointDescription, URIRef(f"{base}/openapi.json")))
    g.add((svc, DCTERMS.accessRights, URIRef(f"{EU}access-right/NON_PUBLIC")))
    for law in (EHDS, GDPR):
        g.add((svc, DCATAP.applicableLegislation, law))
    g.add((svc, DCTERMS.publisher, b.agent("publisher", b.region.publisher)))
    return svc


def _distribution(
    b: _Builder, product: Product, page: URIRef, byte_size: int | None = None
) -> URIRef:
    g = b.g
    dist = b.distribution(
        f"distribution/{product.ref}",
        f"{product.title} i regionens DuckLake-datasø",
        f"Tabellen {product.table} som Parquet-filer i regionens datasø (DuckLake). "
        "Udleveres kun i et godkendt projektarbejdsområde med projektspecifikke pseudonymer.",
        page,
    )
    if b.service is not None:
        g.add((dist, DCAT.accessService, b.service))
    g.add((dist, DCTERMS.format, b.typed(f"{EU}file-type/PARQUET", DCTERMS.MediaTypeOrExtent)))
    g.add((dist, DCATAP.availability, URIRef(f"{EU}planned-availability/STABLE")))
    if byte_size is not None:
        g.add((dist, DCAT.byteSize, Literal(byte_size, datatype=XSD.decimal)))
    rights = b.node(f"distribution/{product.ref}/rights")
    g.add((rights, RDF.type, DCTERMS.RightsStatement))
    g.add((rights, RDFS.label, b.text(b.region.access.how_to_apply)))
    g.add((dist, DCTERMS.rights, rights))
    return dist


def _analytics(b: _Builder, product: Product, page: URIRef) -> URIRef:
    """The product page as an analytics distribution: it shows aggregates only.

    The catalogue site's product page reports row counts, freshness and every quality
    rule with its trend — the aggregate statistics HealthDCAT-AP's ``analytics`` is for.
    """
    return b.distribution(
        f"analytics/{product.ref}",
        f"Nøgletal for {product.title}",
        "Aggregerede nøgletal på produktets side i kataloget: antal rækker, friskhed og hver "
        "kvalitetsregel med udvikling over tid. Ingen rækker.",
        page,
    )


def _sample(b: _Builder, product: Product) -> URIRef:
    """The synthetic sample (:mod:`catalog.samples`) as the dataset's ``adms:sample``."""
    url = URIRef(CatalogueLinks.from_region(b.region).sample(product.ref))
    dist = b.distribution(
        f"sample/{product.ref}",
        f"Syntetisk eksempel på {product.title}",
        f"{ROWS} opdigtede rækker med produktets publicerede kolonner, dannet alene ud fra "
        "specifikationen (kodelister og kvalitetsregler). Ingen rækker fra datasøen.",
        url,
    )
    b.g.add((dist, DCAT.downloadURL, url))
    b.g.add((dist, DCTERMS.format, b.typed(f"{EU}file-type/CSV", DCTERMS.MediaTypeOrExtent)))
    return dist


def _dataset(
    b: _Builder,
    product: Product,
    registry: Registry,
    facts: CatalogFacts,
    stats: ProductStats | None,
    *,
    synthetic: bool = False,
    byte_size: int | None = None,
) -> URIRef:
    g, region = b.g, b.region
    ds = dataset_uri(region, product.ref)
    page = landing_page(region, product.ref)
    state = facts.product(product.ref)
    stats = stats or ProductStats()
    g.add((ds, RDF.type, DCAT.Dataset))
    g.add((ds, DCTERMS.title, b.text(product.title)))
    g.add((ds, DCTERMS.description, b.text(product.description)))
    g.add((ds, DCTERMS.identifier, Literal(str(ds))))
    g.add(
        (
            ds,
            DCTERMS.accessRights,
            b.typed(f"{EU}access-right/{_ACCESS[product.access_level]}", DCTERMS.RightsStatement),
        )
    )
    for law in (EHDS, GDPR):
        g.add((ds, DCATAP.applicableLegislation, law))
    g.add((ds, DCAT.theme, URIRef(f"{EU}data-theme/HEAL")))
    for kind in dataset_types(product, synthetic):
        if kind == MICRODATA:
            concept = b.typed(str(b.node(kind)), SKOS.Concept)
            g.add((concept, SKOS.prefLabel, b.text("Pseudonymiserede mikrodata")))
        else:
            concept = URIRef(f"{EU}dataset-type/{kind}")
        g.add((ds, DCTERMS.type, concept))
    for theme in health_themes(product):
        g.add((ds, HEALTH.healthTheme, URIRef(f"{HDEU}health-theme/{theme}")))
    for category in product.health_categories:
        g.add((ds, HEALTH.healthCategory, URIRef(f"{HDEU}healthcategories/{category.value}")))
    g.add((ds, HEALTH.hdab, b.agent("hdab", region.hdab)))
    publisher = b.agent("publisher", region.publisher)
    g.add((ds, DCTERMS.publisher, publisher))
    g.add((ds, GEODCATAP.custodian, publisher))
    g.add((ds, HEALTH.hasStructuredData, Literal(True)))
    g.add((ds, HEALTH.hasVariables, _variables(b, product)))
    g.add((ds, DCAT.distribution, _distribution(b, product, page, byte_size)))
    if b.service is not None:
        g.add((b.service, DCAT.servesDataset, ds))
    g.add((ds, HEALTH.analytics, _analytics(b, product, page)))
    g.add((ds, ADMS.sample, _sample(b, product)))
    g.add((ds, DCAT.landingPage, b.typed(str(page), FOAF.Document)))
    # Documentation: the product's ODCS data contract. (Not dct:conformsTo: HealthDCAT-AP
    # restricts that to its table of health standards; those that hold are below.)
    for code in standards(product, with_service=b.service is not None, registry=registry):
        g.add((ds, DCTERMS.conformsTo, b.typed(f"{HDEU}standard/{code}", DCTERMS.Standard)))
    contract = b.typed(str(contract_url(region, product.ref)), FOAF.Document)
    g.add((ds, FOAF.page, contract))
    # The contract also points at the dataset: it names its table, columns and rules.
    g.add((ds, DCTERMS.isReferencedBy, contract))
    g.add(
        (ds, DCTERMS.language, b.typed(f"{EU}language/{region.language}", DCTERMS.LinguisticSystem))
    )
    g.add((ds, DCTERMS.spatial, b.typed(f"{EU}country/{region.country}", DCTERMS.Location)))
    g.add((ds, DCTERMS.spatial, b.region_location()))
    for code in stats.municipalities:
        g.add((ds, DCTERMS.spatial, b.municipality(code)))
    g.add(
        (
            ds,
            DCTERMS.accrualPeriodicity,
            b.typed(f"{EU}frequency/{region.frequency}", DCTERMS.Frequency),
        )
    )
    for keyword in product.keywords:
        g.add((ds, DCAT.keyword, b.text(keyword)))

    # Contact point: the product's data stewards (the people who answer questions about it).
    stewards = [o for o in product.owners if o.role == "data_steward"] or product.owners
    contact = b.node(f"contact/{product.ref}")
    g.add((contact, RDF.type, VCARD.Kind))
    g.add((contact, VCARD.fn, Literal(stewards[0].name)))
    g.add((contact, VCARD.hasEmail, URIRef(f"mailto:{stewards[0].email}")))
    g.add((contact, VCARD.hasURL, page))
    g.add((ds, DCAT.contactPoint, contact))

    # Provenance and the products it is derived from.
    if product.source is not None:
        delivery = (
            "fuldt øjebliksbillede" if product.source.load == "replace" else "løbende leverancer"
        )
        provenance = (
            f"Udtræk fra kildesystemet {product.source.system.upper()} "
            f"({product.source.format.value}, {delivery}). "
            "Rækkerne pseudonymiseres (personnøgle med HMAC, generalisering, fjernelse af "
            "direkte identifikatorer), kvalitetstjekkes og publiceres i én transaktion; "
            "rækker, der fejler, sættes i karantæne."
        )
    else:
        provenance = (
            "Beregnet med SQL over de publicerede dataprodukter "
            + ", ".join(product.upstream)
            + "; kvalitetstjekkes og publiceres i én transaktion."
        )
        for up in product.upstream:
            g.add((ds, DCTERMS.source, dataset_uri(region, up)))
    prov = b.node(f"provenance/{product.ref}")
    g.add((prov, RDF.type, DCTERMS.ProvenanceStatement))
    g.add((prov, RDFS.label, b.text(provenance)))
    g.add((ds, DCTERMS.provenance, prov))

    # Purpose and legal basis (DPV).
    purpose = b.node(f"purpose/{product.ref}")
    g.add((purpose, RDF.type, DPV.Purpose))
    g.add((purpose, DCTERMS.description, b.text(product.purpose)))
    g.add((ds, DPV.hasPurpose, purpose))
    legal = product.legal_basis
    basis = b.node(f"legal-basis/{product.ref}")
    text = "; ".join(x for x in [legal.gdpr_article_6, legal.gdpr_article_9, *legal.national] if x)
    if legal.description:
        text = f"{text}. {legal.description}"
    g.add((basis, RDF.type, DPV.LegalBasis))
    g.add((basis, DCTERMS.description, b.text(text)))
    g.add((basis, DCTERMS.source, GDPR))
    g.add((ds, DPV.hasLegalBasis, basis))
    for category in personal_data(product, registry):
        g.add((ds, DPV.hasPersonalData, b.typed(str(DPVPD[category]), DPV.PersonalData)))

    for code in coding_systems(product, registry):
        g.add(
            (ds, HEALTH.hasCodingSystem, b.typed(f"{HDEU}coding-system/{code}", DCTERMS.Standard))
        )
    values = set(stats.code_values)
    for codes in definition_codes(product, registry).values():
        values |= set(codes)
    for value in sorted(values):
        g.add((ds, HEALTH.hasCodeValues, Literal(value)))

    # What the lake holds now (aggregates only). Coverage ends at the newest extract (a
    # derived product's: its sources') and the publication at the latest: rows dated later
    # are defects, not coverage.
    coverage_start, coverage_end = clamp_coverage(
        stats.coverage_start,
        stats.coverage_end,
        newest_extract(product, registry, facts),
        state.published_at.date() if state.published_at is not None else None,
    )
    if state.row_count is not None:
        g.add(
            (ds, HEALTH.numberOfRecords, Literal(state.row_count, datatype=XSD.nonNegativeInteger))
        )
    _population(b, ds, product, stats, coverage_start, coverage_end)
    if temporal := b.period(f"temporal/{product.ref}", coverage_start, coverage_end):
        g.add((ds, DCTERMS.temporal, temporal))
    # Retention: rows are kept `years` from their retention column; the period runs from
    # the oldest row to when the newest row's retention ends.
    if coverage_start and coverage_end:
        retention = b.period(
            f"retention/{product.ref}",
            coverage_start,
            _add_years(coverage_end, product.retention.years),
        )
        assert retention is not None
        g.add((ds, HEALTH.retentionPeriod, retention))
    if state.published_at is not None:
        g.add((ds, DCTERMS.modified, Literal(state.published_at.date(), datatype=XSD.date)))
    if resolution := temporal_resolution(product):
        g.add((ds, DCAT.temporalResolution, Literal(resolution, datatype=XSD.duration)))

    if product.ref == INITIATIVES:
        _initiatives_register(b, ds, registry, facts)
    # Related: the products it can be linked with (same pseudonymisation key id).
    if state.key_id:
        for other in sorted(r for r, p in registry.products.items() if p.offered):
            if other != product.ref and facts.product(other).key_id == state.key_id:
                g.add((ds, DCTERMS.relation, dataset_uri(region, other)))
    _quality_annotation(b, ds, product, facts)
    _quality_label(b, ds, quality_label(product, registry, facts), facts)
    return ds


def _initiatives_register(b: _Builder, ds: URIRef, registry: Registry, facts: CatalogFacts) -> None:
    """The AI/automation initiatives register: what it is about, and what it is related to.

    It holds no patients and no person key, so it has no unique individuals or ages to
    declare; its population is the region's initiatives, and its only personal data is the
    name of the responsible member of staff (the ``owner`` column: "funktion eller navn").
    Its rows name the data products each initiative uses: those are its relations.
    """
    g = b.g
    count = len(facts.initiatives)
    held = f" ({count} i registret)" if count else ""
    g.add(
        (
            ds,
            HEALTH.populationCoverage,
            b.text(
                f"Initiativer med kunstig intelligens eller robotautomatisering i "
                f"{b.region.publisher.name}{held}. Registret beskriver initiativer, ikke "
                "patienter: de eneste personoplysninger er navn eller funktion på den "
                "ansvarlige medarbejder."
            ),
        )
    )
    g.add((ds, DPV.hasPersonalData, b.typed(str(DPVPD.Name), DPV.PersonalData)))
    offered = {p.ref for p in offered_products(registry)} - {INITIATIVES}
    used = {ref for i in facts.initiatives for ref in i.products if ref in offered}
    for ref in sorted(used):
        g.add((ds, DCTERMS.relation, dataset_uri(b.region, ref)))


def _population(
    b: _Builder,
    ds: URIRef,
    product: Product,
    stats: ProductStats,
    start: dt.date | None,
    end: dt.date | None,
) -> None:
    """Who the data is about: its own individuals, or for an aggregate those it counts."""
    g, region = b.g, b.region
    individuals = stats.individuals
    low, high = stats.min_typical_age, stats.max_typical_age
    period = f", {start:%Y-%m-%d} til {end:%Y-%m-%d}." if start and end else "."
    if individuals is not None:
        text = f"Personer i {region.publisher.name} med mindst én række i {product.title}{period}"
    elif stats.computed_from_individuals is not None and product.derived is not None:
        individuals = stats.computed_from_individuals
        low = low if low is not None else stats.computed_from_min_age
        high = high if high is not None else stats.computed_from_max_age
        text = (
            f"Aggregater over personer i {region.publisher.name} med rækker i "
            + ", ".join(product.derived.upstream)
            + f"; ingen personnøgler{period}"
        )
    else:
        text = None
    if individuals is not None:
        g.add(
            (
                ds,
                HEALTH.numberOfUniqueIndividuals,
                Literal(individuals, datatype=XSD.nonNegativeInteger),
            )
        )
    if low is not None and high is not None:
        g.add((ds, HEALTH.minTypicalAge, Literal(low, datatype=XSD.nonNegativeInteger)))
        g.add((ds, HEALTH.maxTypicalAge, Literal(high, datatype=XSD.nonNegativeInteger)))
    if text is not None:
        g.add((ds, HEALTH.populationCoverage, b.text(text)))


def _quality_annotation(b: _Builder, ds: URIRef, product: Product, facts: CatalogFacts) -> None:
    """The latest audit as a quality annotation: counts of rules passed, never values."""
    runs = sorted(facts.quality.get(product.ref, []), key=lambda r: (r.checked_at, r.run_id))
    if not runs:
        return
    latest = runs[-1]
    passed = sum(r.status == "passed" for r in latest.results)
    text = (
        f"{passed} af {len(latest.results)} kvalitetsregler (Kahn: conformance, completeness, "
        f"plausibility) bestået ved seneste kontrol {latest.checked_at:%Y-%m-%d}."
    )
    # HealthDCAT-AP wants a quality *certificate*: the audit is one, since write-audit-publish
    # publishes a snapshot only after its blocking rules passed. Its body is the product's
    # page, which shows every rule per Kahn category with its trend.
    g = b.g
    note = b.node(f"quality/{product.ref}")
    g.add((note, RDF.type, DQV.QualityCertificate))
    g.add((note, OA.hasTarget, ds))
    g.add((note, OA.motivatedBy, DQV.qualityAssessment))
    g.add((note, OA.hasBody, landing_page(b.region, product.ref)))
    g.add((note, RDFS.comment, b.text(text)))
    g.add((ds, DQV.hasQualityAnnotation, note))


def _label_vocabulary(b: _Builder) -> None:
    """The label's category, dimensions and metrics (DQV), once per export."""
    g = b.g
    category = b.node("quality/ehds-label")
    g.add((category, RDF.type, DQV.Category))
    g.add((category, SKOS.prefLabel, b.text("EHDS-datakvalitets- og anvendelighedsmærke")))
    g.add((category, RDFS.seeAlso, EHDS))
    elements = [(k, ELEMENT_TITLES[k]) for k in WEIGHTS]
    dimensions = [(f"technical_quality/{k}", DIMENSION_TITLES[k]) for k in DIMENSIONS]
    for key, title in [*elements, *dimensions, ("score", "Samlet score (0–100)")]:
        dimension = b.node(f"quality/dimension/{key.split('/')[-1]}")
        g.add((dimension, RDF.type, DQV.Dimension))
        g.add((dimension, SKOS.prefLabel, b.text(title)))
        g.add((dimension, DQV.inCategory, category))
        metric = b.node(f"quality/metric/{key}")
        g.add((metric, RDF.type, DQV.Metric))
        g.add((metric, SKOS.prefLabel, b.text(title)))
        g.add((metric, DQV.inDimension, dimension))
        g.add((metric, DQV.expectedDataType, XSD.integer if key == "score" else XSD.decimal))


def _quality_label(b: _Builder, ds: URIRef, label: QualityLabel, facts: CatalogFacts) -> None:
    """The EHDS label (art. 78) as DQV: one measurement per element and per technical
    dimension measured, and a certificate naming the level (what the site shows)."""
    g, ref = b.g, label.product_ref
    values: list[tuple[str, Literal]] = [
        (e.key, Literal(f"{e.score:.3f}", datatype=XSD.decimal)) for e in label.elements
    ]
    values += [
        (f"technical_quality/{k}", Literal(f"{v:.3f}", datatype=XSD.decimal))
        for k, v in label.dimensions.items()
        if v is not None
    ]
    values.append(("score", Literal(label.score, datatype=XSD.integer)))
    for key, value in values:
        measurement = b.node(f"quality/measurement/{ref}/{key}")
        g.add((measurement, RDF.type, DQV.QualityMeasurement))
        g.add((measurement, DQV.computedOn, ds))
        g.add((measurement, DQV.isMeasurementOf, b.node(f"quality/metric/{key}")))
        g.add((measurement, DQV.value, value))
        g.add((measurement, DCTERMS.date, Literal(facts.generated_at.date(), datatype=XSD.date)))
        g.add((ds, DQV.hasQualityMeasurement, measurement))
    note = b.node(f"quality/label/{ref}")
    g.add((note, RDF.type, DQV.QualityCertificate))
    g.add((note, OA.hasTarget, ds))
    g.add((note, OA.motivatedBy, DQV.qualityAssessment))
    g.add((note, OA.hasBody, landing_page(b.region, ref)))
    parts = "; ".join(f"{e.title} {e.score:.2f} ({e.basis})" for e in label.elements)
    text = f"EHDS-kvalitetsmærke (art. 78): {label.level_title}, {label.score}/100. {parts}."
    g.add((note, RDFS.comment, b.text(text)))
    g.add((ds, DQV.hasQualityAnnotation, note))


def _catalogue(b: _Builder, datasets: list[URIRef]) -> URIRef:
    """The ``dcat:Catalog`` a national catalogue harvests: the region publishes it.

    DCAT-AP types a catalogue's publisher from the ADMS publisher-type table and
    HealthDCAT-AP a dataset's from its own, and an agent has one ``dct:type``: the
    catalogue's publisher is therefore its own node, the same region by name and contact.
    """
    g, region = b.g, b.region
    cat = URIRef(b.base)
    g.add((cat, RDF.type, DCAT.Catalog))
    g.add((cat, DCTERMS.title, b.text(f"{region.publisher.name}s sundhedsdatakatalog")))
    g.add(
        (
            cat,
            DCTERMS.description,
            b.text(
                f"Dataprodukter med sundhedsdata fra {region.publisher.name} til sekundær "
                "anvendelse (forskning, kvalitet, planlægning) efter EHDS."
            ),
        )
    )
    publisher = b.node("agent/catalogue-publisher")
    g.add((publisher, RDF.type, FOAF.Agent))
    g.add((publisher, FOAF.name, b.text(region.publisher.name)))
    g.add((publisher, DCTERMS.type, URIRef(ADMS_PUBLISHER_TYPE[region.publisher.type])))
    g.add((publisher, FOAF.homepage, b.typed(str(region.publisher.url), FOAF.Document)))
    g.add((cat, DCTERMS.publisher, publisher))
    g.add((cat, FOAF.homepage, b.typed(str(region.catalogue_url), FOAF.Document)))
    for law in (EHDS, GDPR):
        g.add((cat, DCATAP.applicableLegislation, law))
    g.add((cat, DCTERMS.language, URIRef(f"{EU}language/{region.language}")))
    g.add((cat, DCTERMS.spatial, URIRef(f"{EU}country/{region.country}")))
    g.add((cat, DCTERMS.spatial, b.region_location()))
    g.add((cat, DCAT.themeTaxonomy, URIRef(f"{EU}data-theme")))
    for ds in datasets:
        g.add((cat, DCAT.dataset, ds))
    if b.service is not None:
        g.add((cat, DCAT.service, b.service))
    return cat


def build_graph(
    registry: Registry,
    facts: CatalogFacts,
    stats: dict[str, ProductStats],
    region: RegionCatalogue,
    *,
    synthetic: bool = False,
    byte_sizes: dict[str, int] | None = None,
) -> Graph:
    """The HealthDCAT-AP graph of every product in ``registry``, in the region's catalogue.

    ``synthetic`` says the lake holds the synthetic region (typed ``SYNTHETIC_DATA``);
    ``byte_sizes`` are the Parquet bytes of each product's current snapshot.
    """
    b = _Builder(region)
    sizes = byte_sizes or {}
    if stats and not facts.stats:  # the label reads the lake's aggregates from the facts
        facts = facts.model_copy(update={"stats": stats})
    _label_vocabulary(b)
    b.service = _access_service(b)
    for law in (EHDS, GDPR):
        b.g.add((law, RDF.type, ELI.LegalResource))
    datasets = [
        _dataset(
            b,
            product,
            registry,
            facts,
            stats.get(product.ref),
            synthetic=synthetic,
            byte_size=sizes.get(product.ref),
        )
        for product in offered_products(registry)
    ]
    _catalogue(b, datasets)
    return b.g


def offered_products(registry: Registry) -> list[Product]:
    """The products the catalogue offers researchers: drafts are left out."""
    return sorted((p for p in registry.products.values() if p.offered), key=lambda p: p.ref)


def is_synthetic() -> bool:
    """The lake was loaded from ``regionlab synth``'s extracts (its manifest is beside them)."""
    return (get_settings().sources_dir / "manifest.json").exists()


def byte_sizes(registry: Registry) -> dict[str, int]:
    """Bytes of the Parquet data files of each product's current snapshot (no lake: empty)."""
    from regionlab import lake
    from regionlab.errors import UserError

    try:
        con = lake.connect(read_only=True)
    except UserError:
        return {}
    try:
        present = {f"{d}/{p}" for d, p in lake.list_tables(con)}
        out: dict[str, int] = {}
        for ref in registry.products:
            if ref not in present:
                continue
            domain, _, name = ref.partition("/")
            files = lake.data_files(con, domain, name)
            out[ref] = sum(f.stat().st_size for f in files if f.exists())
        return out
    finally:
        con.close()


def export_dcat(path: Path | None = None) -> tuple[Path, int]:
    """Write ``<var>/catalog/healthdcat-ap.ttl`` from specs, region config and lake."""
    from catalog.lake_facts import facts_from_lake
    from regionlab.spec import load_domains
    from regionlab.spec.region import load_region

    registry = load_domains()
    region = load_region()
    facts = facts_from_lake(registry)  # with the lake's aggregates (one read of the lake)
    graph = build_graph(
        registry,
        facts,
        facts.stats,
        region,
        synthetic=is_synthetic(),
        byte_sizes=byte_sizes(registry),
    )
    path = path or dcat_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    graph.serialize(path, format="turtle", encoding="utf-8")
    for product in offered_products(registry):  # the samples the export links
        write_sample(product)
    return path, len(offered_products(registry))
