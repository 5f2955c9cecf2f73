"""HealthDCAT-AP export: mapping from specs, config and lake; conformance to the R8 shapes."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest
from rdflib import RDF, Graph, Literal, URIRef
from rdflib import namespace as ns

from catalog.dcat import (
    DPV,
    DPVPD,
    EU,
    HDEU,
    HEALTH,
    VCARD,
    build_graph,
    dataset_uri,
    export_dcat,
    is_row_level,
)
from catalog.facts import CatalogFacts, ProductFacts
from catalog.lake_stats import ProductStats
from catalog.validation import load_vocabularies, validate_graph
from regionlab.errors import UserError
from regionlab.spec import Registry, load_domains
from regionlab.spec.region import load_region
from regionlab.spec.vocab import AccessLevel

REPO = Path(__file__).resolve().parents[2]
REGION_FILE = REPO / "domains" / "catalog.yaml"

#: Recommended properties the specs, the region config and the lake fill for every
#: person-level product; none of them may show up as a warning for such a product.
FILLED = {
    "http://purl.org/dc/terms/temporal",
    "http://purl.org/dc/terms/language",
    "http://purl.org/dc/terms/accrualPeriodicity",
    "http://purl.org/dc/terms/relation",
    "http://www.w3.org/ns/dcat#landingPage",
    "http://www.w3.org/ns/dcat#temporalResolution",
    "http://xmlns.com/foaf/0.1/page",
    "http://data.europa.eu/930/custodian",
    "http://www.w3.org/ns/dqv#hasQualityAnnotation",
    "https://w3id.org/dpv#hasLegalBasis",
    "https://w3id.org/dpv#hasPurpose",
    "https://w3id.org/dpv#hasPersonalData",
    str(HEALTH.numberOfRecords),
    str(HEALTH.numberOfUniqueIndividuals),
    str(HEALTH.minTypicalAge),
    str(HEALTH.maxTypicalAge),
    str(HEALTH.populationCoverage),
    str(HEALTH.retentionPeriod),
}


def run_validator(ttl: Path, level: AccessLevel = AccessLevel.non_public) -> tuple[int, list[str]]:
    """(violations, violation lines) of every dataset in ``ttl`` held to ``level``'s shapes."""
    report = validate_graph(Graph().parse(ttl, format="turtle"), level, all_datasets=True)
    lines = [
        f"{f.focus} | {f.path} | {f.message[:160]}"
        for f in report.findings
        if f.severity == "Violation"
    ]
    return report.violations, lines


def warnings_by_dataset(ttl: Path) -> dict[str, set[str]]:
    """Paths of the recommended-shape warnings, per dataset the export describes."""
    data = Graph().parse(ttl, format="turtle")
    datasets = {str(d) for d in data.subjects(RDF.type, ns.DCAT.Dataset)}
    report = validate_graph(data, AccessLevel.non_public, recommended=True, all_datasets=True)
    out: dict[str, set[str]] = {d: set() for d in datasets}
    for finding in report.findings:
        if finding.focus in datasets and finding.severity != "Violation":
            out[finding.focus].add(str(finding.path))
    return out


def _non_public(registry: Registry) -> Registry:
    return registry.model_copy(
        update={
            "products": {
                ref: p
                for ref, p in registry.products.items()
                if p.access_level is AccessLevel.non_public
            }
        }
    )


# --- mapping, without a lake ------------------------------------------------------------------


def test_mapping_from_specs_config_and_facts(registry: Registry, facts: CatalogFacts) -> None:
    region = load_region(REGION_FILE)
    facts = facts.model_copy(
        update={"products": {**facts.products, "population/persons": ProductFacts(row_count=42)}}
    )
    stats = {
        "population/persons": ProductStats(
            individuals=40, min_typical_age=3, max_typical_age=88, coverage_start=None
        )
    }
    g = build_graph(registry, facts, stats, region)
    persons = registry.products["population/persons"]
    ds = dataset_uri(region, persons.ref)
    assert (ds, RDF.type, ns.DCAT.Dataset) in g
    assert (ds, ns.DCTERMS.accessRights, URIRef(f"{EU}access-right/NON_PUBLIC")) in g
    assert (ds, ns.DCAT.theme, URIRef(f"{EU}data-theme/HEAL")) in g
    for category in persons.health_categories:
        assert (ds, HEALTH.healthCategory, URIRef(f"{HDEU}healthcategories/{category}")) in g
    assert g.value(ds, ns.DCTERMS.title) == Literal(persons.title, lang="da")
    assert (ds, HEALTH.numberOfRecords, Literal(42, datatype=ns.XSD.nonNegativeInteger)) in g
    assert (
        ds,
        HEALTH.numberOfUniqueIndividuals,
        Literal(40, datatype=ns.XSD.nonNegativeInteger),
    ) in g
    assert (ds, HEALTH.minTypicalAge, Literal(3, datatype=ns.XSD.nonNegativeInteger)) in g
    personal = set(g.objects(ds, DPV.hasPersonalData))
    assert {DPVPD.Age, DPVPD.Gender} <= personal
    hdab = g.value(ds, HEALTH.hdab)
    assert hdab is not None and "Sundhedsdatastyrelsen" in str(
        g.value(hdab, URIRef("http://xmlns.com/foaf/0.1/name"))
    )
    purpose = g.value(ds, DPV.hasPurpose)
    assert " ".join(persons.purpose.split()) == str(g.value(purpose, ns.DCTERMS.description))
    # One column per published column, and never a dropped one (names, addresses).
    names = {str(o) for o in g.objects(None, URIRef("http://www.w3.org/ns/csvw#name"))}
    assert {c.name for c in persons.published_columns} <= names
    assert "first_name" not in names and "address" not in names


def test_coding_systems_come_from_column_code_systems(facts: CatalogFacts) -> None:
    """Coded columns give their coding system; a derived product's definition gives the
    systems (and code values) its SQL selects by; nothing else declares one."""
    region = load_region(REGION_FILE)
    registry = load_domains(REPO / "domains")
    g = build_graph(registry, facts, {}, region)
    seen = set()
    for product in registry.products.values():
        systems = {c.code_system for c in product.published_columns if c.code_system}
        systems |= {t for c in product.published_columns for t in c.terminologies}
        declared = set(g.objects(dataset_uri(region, product.ref), HEALTH.hasCodingSystem))
        seen |= declared
        if "sks_diagnoses" in systems:
            assert URIRef(f"{HDEU}coding-system/ICD-10-NAT") in declared
        if not systems - {"municipalities"} and product.derived is None:
            assert not declared, product.ref
    assert {URIRef(f"{HDEU}coding-system/{c}") for c in ("ATC", "NPU", "ICD-10-NAT")} <= seen
    # The type 2 diabetes cohort is defined by an ICD-10 chapter, an NPU test and an ATC code.
    t2d = dataset_uri(region, "research/t2d_cohort")
    assert set(g.objects(t2d, HEALTH.hasCodingSystem)) == {
        URIRef(f"{HDEU}coding-system/{c}") for c in ("ATC", "NPU", "ICD-10-NAT")
    }
    assert {str(v) for v in g.objects(t2d, HEALTH.hasCodeValues)} == {
        "DE11",
        "NPU27300",
        "A10BA02",
    }
    assert not set(
        g.objects(dataset_uri(region, "research/readmissions_30d"), HEALTH.hasCodingSystem)
    )
    # The EPJ stream's FHIR code column mixes NPU (analyses) and LOINC (vital signs): no
    # single code list validates it, and its terminologies are still coding systems.
    epj = dataset_uri(region, "laboratory/epj_observations")
    assert set(g.objects(epj, HEALTH.hasCodingSystem)) == {
        URIRef(f"{HDEU}coding-system/{c}") for c in ("NPU", "LOINC")
    }
    vocab = load_vocabularies()
    for system in seen | {URIRef(f"{HDEU}coding-system/LOINC")}:
        assert (system, ns.SKOS.inScheme, URIRef(f"{HDEU}coding-system")) in vocab, system


def test_terminology_code_values_are_codes_of_the_terminology() -> None:
    """A mixed code column names only values that are NPU codes of the list or LOINC codes
    with a valid check digit (mod 10), never other text the column holds."""
    from catalog.lake_stats import is_code_of, is_loinc
    from regionlab.spec.vocab import Terminology

    assert all(is_loinc(c) for c in ("8867-4", "8480-6", "8462-4", "8310-5", "59408-5"))
    assert not any(is_loinc(c) for c in ("8867-5", "8867", "-4", "88a7-4", "8867-44"))
    assert is_code_of(Terminology.npu, "NPU27300")
    assert not is_code_of(Terminology.npu, "NPU99999")
    assert not is_code_of(Terminology.loinc, "NPU27300")


def test_initiatives_register_names_its_population_personal_data_and_relations(
    facts: CatalogFacts,
) -> None:
    """The register holds no patients: its population is the region's initiatives, its only
    personal data the responsible staff member's name, its relations the products its rows
    name — and it declares no individuals or ages it does not have."""
    region = load_region(REGION_FILE)
    registry = load_domains(REPO / "domains")
    g = build_graph(registry, facts, {}, region)
    ds = dataset_uri(region, "initiatives/initiatives")
    used = {ref for i in facts.initiatives for ref in i.products}
    assert set(g.objects(ds, ns.DCTERMS.relation)) == {dataset_uri(region, r) for r in used}
    assert set(g.objects(ds, DPV.hasPersonalData)) == {DPVPD.Name}
    text = str(g.value(ds, HEALTH.populationCoverage))
    assert f"({len(facts.initiatives)} i registret)" in text and "ikke patienter" in text
    for prop in (HEALTH.numberOfUniqueIndividuals, HEALTH.minTypicalAge, HEALTH.maxTypicalAge):
        assert g.value(ds, prop) is None, prop


def test_region_config_errors_name_file_and_field(tmp_path: Path) -> None:
    bad = tmp_path / "catalog.yaml"
    bad.write_text(
        REGION_FILE.read_text(encoding="utf-8").replace("type: regional-authority", "type: county"),
        encoding="utf-8",
    )
    with pytest.raises(UserError) as err:
        load_region(bad)
    assert str(bad) in str(err.value) and "publisher.type" in str(err.value)
    with pytest.raises(UserError, match="no catalog.yaml"):
        load_region(tmp_path / "missing" / "catalog.yaml")


STATISTICAL = URIRef(f"{EU}dataset-type/STATISTICAL")
SYNTHETIC = URIRef(f"{EU}dataset-type/SYNTHETIC_DATA")
HEALTH_THEME_SCHEME = URIRef(f"{HDEU}health-theme")


def test_row_level_products_are_never_statistical_and_synthetic_data_says_so(
    facts: CatalogFacts,
) -> None:
    region = load_region(REGION_FILE)
    registry = load_domains(REPO / "domains")
    synthetic = build_graph(registry, facts, {}, region, synthetic=True)
    real = build_graph(registry, facts, {}, region, synthetic=False)
    row_level = {ref for ref, p in registry.products.items() if is_row_level(p)}
    assert "population/persons" in row_level
    assert "population/municipality_population" not in row_level
    for ref in registry.products:
        ds = dataset_uri(region, ref)
        types = set(synthetic.objects(ds, ns.DCTERMS.type))
        real_types = set(real.objects(ds, ns.DCTERMS.type))
        if ref in row_level:
            assert types == {SYNTHETIC}, (ref, types)
            # Real microdata: no EU concept fits, and STATISTICAL would be false.
            assert STATISTICAL not in real_types and SYNTHETIC not in real_types, ref
            assert real_types, ref
        else:
            assert types == {STATISTICAL, SYNTHETIC}, (ref, types)
            assert real_types == {STATISTICAL}, ref


def test_temporal_coverage_ends_at_the_extract_date_not_at_future_rows(
    registry: Registry, facts: CatalogFacts
) -> None:
    """Synthetic death dates run past the extract: coverage, population text and retention
    stop at the newest extract (the earlier of extract and publication)."""
    region = load_region(REGION_FILE)
    state = facts.product("population/persons")
    assert state.newest_extract is not None and state.published_at is not None
    limit = min(state.newest_extract, state.published_at.date())
    future = dt.date(limit.year + 1, 10, 1)
    stats = {
        "population/persons": ProductStats(
            individuals=40, coverage_start=dt.date(2020, 1, 1), coverage_end=future
        )
    }
    g = build_graph(registry, facts, stats, region)
    ds = dataset_uri(region, "population/persons")
    temporal = g.value(ds, ns.DCTERMS.temporal)
    assert g.value(temporal, ns.DCAT.endDate).toPython() == limit
    assert g.value(temporal, ns.DCAT.startDate).toPython() == dt.date(2020, 1, 1)
    modified = g.value(ds, ns.DCTERMS.modified).toPython()
    assert g.value(temporal, ns.DCAT.endDate).toPython() <= modified
    text = str(g.value(ds, HEALTH.populationCoverage))
    assert f"{limit:%Y-%m-%d}" in text and f"{future:%Y-%m-%d}" not in text
    retention = g.value(ds, HEALTH.retentionPeriod)
    years = registry.products["population/persons"].retention.years
    assert g.value(retention, ns.DCAT.endDate).toPython().year == limit.year + years


def test_derived_coverage_ends_at_its_sources_newest_extract(
    registry: Registry, facts: CatalogFacts
) -> None:
    region = load_region(REGION_FILE)
    derived = registry.products["research/readmissions_30d"]
    assert derived.source is None and facts.product(derived.ref).newest_extract is None
    limit = max(facts.product(u).newest_extract for u in derived.upstream)
    stats = {
        derived.ref: ProductStats(
            coverage_start=dt.date(2020, 1, 1), coverage_end=dt.date(limit.year + 1, 3, 1)
        )
    }
    g = build_graph(registry, facts, stats, region)
    temporal = g.value(dataset_uri(region, derived.ref), ns.DCTERMS.temporal)
    assert g.value(temporal, ns.DCAT.endDate).toPython() == limit


def test_catalogue_node_is_published_by_the_region_and_covers_syddanmark(
    facts: CatalogFacts,
) -> None:
    region = load_region(REGION_FILE)
    registry = load_domains(REPO / "domains")
    g = build_graph(registry, facts, {}, region)
    catalogues = set(g.subjects(RDF.type, ns.DCAT.Catalog))
    assert len(catalogues) == 1
    (catalogue,) = catalogues
    publisher = g.value(catalogue, ns.DCTERMS.publisher)
    assert str(g.value(publisher, ns.FOAF.name)) == region.publisher.name == "Region Syddanmark"
    assert g.value(publisher, ns.DCTERMS.type) == URIRef(
        "http://purl.org/adms/publishertype/RegionalAuthority"
    )
    assert set(g.objects(catalogue, ns.DCAT.dataset)) == {
        dataset_uri(region, ref) for ref in registry.products
    }
    country = URIRef(f"{EU}country/{region.country}")
    syddanmark = URIRef("https://sws.geonames.org/6418542/")
    assert {country, syddanmark} <= set(g.objects(catalogue, ns.DCTERMS.spatial))
    for ref in registry.products:
        spatial = set(g.objects(dataset_uri(region, ref), ns.DCTERMS.spatial))
        assert {country, syddanmark} <= spatial, ref
    # Region Syddanmark is the GeoNames feature R8 accepts, and it is NUTS 2 region DK03.
    assert g.value(syddanmark, ns.SKOS.exactMatch) == URIRef("http://data.europa.eu/nuts/code/DK03")
    assert str(g.value(syddanmark, ns.DCTERMS.identifier)) == "DK03"
    assert g.value(syddanmark, ns.SKOS.inScheme) == URIRef("http://sws.geonames.org")


def test_spatial_coverage_names_the_municipalities_the_data_covers(
    registry: Registry, facts: CatalogFacts
) -> None:
    """Municipalities from the lake's aggregates (kommunekoder, public reference data) become
    GeoNames features in the region, each matched to its DAGI municipality."""
    from catalog.places import MUNICIPALITY_GEONAMES
    from regionlab import codelists

    assert set(MUNICIPALITY_GEONAMES) == set(codelists.codes("municipalities"))
    region = load_region(REGION_FILE)
    stats = {"population/persons": ProductStats(individuals=40, municipalities=["461", "630"])}
    g = build_graph(registry, facts, stats, region)
    spatial = set(g.objects(dataset_uri(region, "population/persons"), ns.DCTERMS.spatial))
    odense = URIRef("https://sws.geonames.org/2615872/")
    vejle = URIRef("https://sws.geonames.org/2610601/")
    assert {odense, vejle} <= spatial
    assert len(spatial) == 4  # Denmark, the region, two municipalities
    assert str(g.value(odense, ns.SKOS.prefLabel)) == "Odense Kommune"
    assert str(g.value(odense, ns.DCTERMS.identifier)) == "0461"
    assert g.value(odense, ns.SKOS.exactMatch) == URIRef(
        "https://api.dataforsyningen.dk/kommuner/0461"
    )
    assert g.value(odense, ns.SKOS.broader) == URIRef("https://sws.geonames.org/6418542/")
    report = validate_graph(g, AccessLevel.non_public, recommended=True, all_datasets=True)
    assert not [f for f in report.findings if f.path == str(ns.DCTERMS.spatial)]


def test_the_access_service_is_a_data_service_every_distribution_names(
    facts: CatalogFacts,
) -> None:
    """A harvester follows ``dcat:accessService`` to the API, not to a page anchor."""
    region = load_region(REGION_FILE)
    registry = load_domains(REPO / "domains")
    g = build_graph(registry, facts, {}, region)
    (service,) = set(g.subjects(RDF.type, ns.DCAT.DataService))
    endpoint = str(region.access.service_url).rstrip("/")
    assert g.value(service, ns.DCAT.endpointURL) == URIRef(endpoint)
    assert g.value(service, ns.DCAT.endpointDescription) == URIRef(f"{endpoint}/openapi.json")
    (catalogue,) = set(g.subjects(RDF.type, ns.DCAT.Catalog))
    assert g.value(catalogue, ns.DCAT.service) == service
    datasets = set(g.objects(catalogue, ns.DCAT.dataset))
    assert set(g.objects(service, ns.DCAT.servesDataset)) == datasets
    for ds in datasets:
        parquet = [
            d for d in g.objects(ds, ns.DCAT.distribution) if (d, ns.DCAT.accessService, None) in g
        ]
        assert [g.value(d, ns.DCAT.accessService) for d in parquet] == [service], ds
    without = region.model_copy(
        update={"access": region.access.model_copy(update={"service_url": None})}
    )
    bare = build_graph(registry, facts, {}, without)
    assert not set(bare.subjects(RDF.type, ns.DCAT.DataService))


def test_health_theme_contact_url_and_byte_size(facts: CatalogFacts) -> None:
    region = load_region(REGION_FILE)
    registry = load_domains(REPO / "domains")
    sizes = {ref: 1000 + i for i, ref in enumerate(sorted(registry.products))}
    g = build_graph(registry, facts, {}, region, byte_sizes=sizes)
    vocab = load_vocabularies()
    for ref in registry.products:
        ds = dataset_uri(region, ref)
        themes = set(g.objects(ds, HEALTH.healthTheme))
        assert themes, ref
        for theme in themes:  # concepts of the official health-theme vocabulary
            assert (theme, ns.SKOS.inScheme, HEALTH_THEME_SCHEME) in vocab, theme
        contact = g.value(ds, ns.DCAT.contactPoint)
        assert g.value(contact, VCARD.hasURL) == g.value(ds, ns.DCAT.landingPage)
        dist = g.value(ds, ns.DCAT.distribution)
        assert g.value(dist, ns.DCAT.byteSize) == Literal(sizes[ref], datatype=ns.XSD.decimal)
        analytics = g.value(ds, HEALTH.analytics)
        assert (analytics, RDF.type, ns.DCAT.Distribution) in g
        assert g.value(analytics, ns.DCAT.accessURL) == g.value(ds, ns.DCAT.landingPage)
    prescriptions = dataset_uri(region, "medication/prescriptions")
    assert URIRef(f"{HDEU}health-theme/HEALTH_PRODUCTS") in set(
        g.objects(prescriptions, HEALTH.healthTheme)
    )


# --- conformance on a real demo platform -----------------------------------------------------


@pytest.mark.slow
def test_non_public_products_conform_to_the_official_shapes(demo_env: Path, tmp_path: Path) -> None:
    from catalog.lake_facts import facts_from_lake
    from catalog.lake_stats import product_stats

    registry = load_domains()
    subset = _non_public(registry)
    assert len(subset.products) >= 8
    graph = build_graph(subset, facts_from_lake(registry), product_stats(registry), load_region())
    ttl = tmp_path / "non-public.ttl"
    graph.serialize(ttl, format="turtle")
    violations, lines = run_validator(ttl)
    assert violations == 0, "\n".join(lines)
    assert len(set(graph.subjects(RDF.type, ns.DCAT.Dataset))) == len(subset.products)


@pytest.mark.slow
def test_cli_export_only_public_products_miss_the_non_public_rule(demo_env: Path) -> None:
    """The whole export, through the CLI: public products are validated against the
    NON_PUBLIC level too, and the only counted violations are their access right."""
    from typer.testing import CliRunner

    from cli.catalog_cmd import app

    result = CliRunner().invoke(app, ["export", "dcat"])
    assert result.exit_code == 0, result.output
    ttl = demo_env / "catalog" / "healthdcat-ap.ttl"
    assert ttl.exists()
    registry = load_domains()
    public = {
        ref for ref, p in registry.products.items() if p.access_level is not AccessLevel.non_public
    }
    violations, lines = run_validator(ttl)
    assert violations == len(public)
    for line in lines:
        assert "accessRights" in line and any(ref in line for ref in public), line


#: Products without a health-coded column, a terminology or a coded definition: the R8
#: coding-system table has nothing for CPR data, SOR department ids, municipality codes,
#: free text or an initiatives list, and a concept outside the table is a violation.
UNCODED = frozenset(
    {
        "population/persons",
        "population/municipality_population",
        "patient_administration/contacts",
        "clinical_notes/notes",
        "research/monthly_activity",
        "research/readmissions_30d",
        "initiatives/initiatives",
    }
)
#: Source products: each comes from a system's extract (CPR, LPR3, EPJ, FMK, LABKA, the
#: initiatives register) or a broker topic. ``dct:source`` must be a ``dcat:Dataset``
#: (DCAT-AP range, a violation otherwise), and any dataset this export describes is held
#: to every shape — so describing the upstream registers only moves the warning up the
#: lineage (their own ``dct:source``) and adds the statistics the region cannot know.
SOURCE_PRODUCTS = frozenset(
    {
        "population/persons",
        "patient_administration/contacts",
        "diagnoses/diagnoses",
        "diagnoses/procedures",
        "clinical_notes/notes",
        "laboratory/lab_results",
        "laboratory/epj_observations",
        "medication/prescriptions",
        "initiatives/initiatives",
    }
)
CATALOGUE = "catalogue"
#: Recommended properties nothing in the specs, the region file or the lake fills honestly:
#: property → (the datasets, or the catalogue, that miss it; why). The only warnings the R8
#: shapes (recommended included) may leave on the demo, and each must be left exactly where
#: it says: a new warning fails the tests below, and so does one that is closed without
#: taking it off this list.
OPEN_RECOMMENDATIONS: dict[str, tuple[frozenset[str], str]] = {
    "http://purl.org/dc/terms/source": (SOURCE_PRODUCTS, "no upstream dataset to name"),
    str(HEALTH.hasCodingSystem): (UNCODED, "no concept of the R8 coding-system table"),
    str(HEALTH.hasCodeValues): (UNCODED, "no codes of such a coding system"),
    # DCAT-AP's vocabulary shape wants a concept of the EU corporate-bodies table, which
    # has no entry for Region Syddanmark; another body's URI would be a false publisher.
    "http://purl.org/dc/terms/publisher": (frozenset({CATALOGUE}), "not in the EU table"),
    # The register describes initiatives, not persons: no individuals, no ages.
    str(HEALTH.numberOfUniqueIndividuals): (frozenset({"initiatives/initiatives"}), "none"),
    str(HEALTH.minTypicalAge): (frozenset({"initiatives/initiatives"}), "no ages"),
    str(HEALTH.maxTypicalAge): (frozenset({"initiatives/initiatives"}), "no ages"),
}


def expected_warnings(refs: set[str], paths: set[str] | None = None) -> set[tuple[str, str]]:
    """(property, dataset ref or ``catalogue``) of the open recommendations among ``refs``,
    restricted to the properties a level's recommended shapes check (``paths``)."""
    return {
        (path, ref)
        for path, (where, _) in OPEN_RECOMMENDATIONS.items()
        for ref in where
        if ref in refs and (paths is None or path in paths)
    }


def recommended_paths(level: AccessLevel) -> set[str]:
    """The properties a level's R8 recommended shapes check (beside DCAT-AP's)."""
    from catalog.validation.shacl import HEALTH_R8

    name = {"non_public": "non-public"}.get(level.value, level.value)
    shapes = Graph().parse(HEALTH_R8 / "recommended" / f"{name}-shapes_recommended.ttl")
    paths = {str(p) for p in shapes.objects(None, URIRef("http://www.w3.org/ns/shacl#path"))}
    return paths | {"http://purl.org/dc/terms/publisher"}


@pytest.mark.slow
def test_recommended_properties_the_specs_can_fill_are_filled(demo_env: Path) -> None:
    path, n = export_dcat()
    assert n == len(load_domains().products)
    warnings = warnings_by_dataset(path)
    registry = load_domains()
    region = load_region()
    by_ref = {str(dataset_uri(region, ref)): ref for ref in registry.products}
    found = {(p, by_ref[ds]) for ds, paths in warnings.items() for p in paths}
    # The first version of this export left 139 recommended-property warnings on the demo
    # platform (all held to NON_PUBLIC), then 102, 90 and 31; the EPJ stream's terminologies
    # (NPU, LOINC) and the initiatives register's population, personal data and relations
    # close all but OPEN_RECOMMENDATIONS — exactly those, on exactly those datasets.
    assert found == expected_warnings(set(registry.products)), found ^ expected_warnings(
        set(registry.products)
    )
    for ref, product in registry.products.items():
        if not product.published("person_key"):
            continue
        missing = warnings[str(dataset_uri(region, ref))] & FILLED
        assert not missing, (ref, missing)


@pytest.mark.slow
def test_each_access_level_has_no_violation_and_only_the_open_recommendations(
    demo_env: Path,
) -> None:
    """Each product held to its own level's R8 shapes, recommended ones included: 0
    violations, and the warnings are exactly OPEN_RECOMMENDATIONS that the level checks."""
    from catalog.validation import validate_export

    path, _ = export_dcat()
    reports = validate_export(path, recommended=True)
    registry = load_domains()
    region = load_region()
    by_ref = {str(dataset_uri(region, ref)): ref for ref in registry.products}
    by_ref[str(region.catalogue_url).rstrip("/")] = CATALOGUE
    assert {r.level for r in reports} == {p.access_level for p in registry.products.values()}
    counts = {}
    for report in reports:
        assert report.violations == 0, [f for f in report.findings if f.severity == "Violation"]
        refs = {r for r, p in registry.products.items() if p.access_level is report.level}
        found = {(f.path, by_ref[f.focus]) for f in report.findings if f.severity == "Warning"}
        expected = expected_warnings(refs | {CATALOGUE}, recommended_paths(report.level))
        assert found == expected, (report.level, found ^ expected)
        assert report.warnings == len(expected)
        counts[report.level] = report.warnings
    # Before: public 11, non_public 79 (12 products); then 8 and 23 (13 products).
    assert counts == {AccessLevel.public: 6, AccessLevel.non_public: 21}, counts
    g = Graph().parse(path, format="turtle")
    aggregates = [p for p in registry.products.values() if not is_row_level(p) and p.derived]
    assert aggregates
    for product in aggregates:
        ds = dataset_uri(load_region(), product.ref)
        assert g.value(ds, HEALTH.numberOfUniqueIndividuals) is not None, product.ref
        assert g.value(ds, HEALTH.populationCoverage) is not None, product.ref


@pytest.mark.slow
def test_demo_export_is_synthetic_sized_and_never_covers_the_future(demo_env: Path) -> None:
    """On the demo platform: synthetic data says so, every distribution has its Parquet
    size, and no coverage runs past the export's modified date (synthetic death dates do)."""
    path, _ = export_dcat()
    g = Graph().parse(path, format="turtle")
    registry = load_domains()
    region = load_region()
    for ref, product in registry.products.items():
        ds = dataset_uri(region, ref)
        types = set(g.objects(ds, ns.DCTERMS.type))
        assert SYNTHETIC in types, ref
        assert (STATISTICAL in types) is not is_row_level(product), ref
        size = g.value(g.value(ds, ns.DCAT.distribution), ns.DCAT.byteSize)
        assert size is not None and int(size.toPython()) > 0, ref
        temporal = g.value(ds, ns.DCTERMS.temporal)
        if temporal is not None:
            end = g.value(temporal, ns.DCAT.endDate).toPython()
            assert end <= g.value(ds, ns.DCTERMS.modified).toPython(), ref
    assert len(set(g.subjects(RDF.type, ns.DCAT.Catalog))) == 1


@pytest.mark.slow
def test_cli_validate_finds_no_violation_at_any_access_level(demo_env: Path) -> None:
    """`regionlab catalog validate --export`: each product is held to the shapes of its own
    access level (public products to PUBLIC), and the whole export conforms."""
    from typer.testing import CliRunner

    from catalog.validation import validate_export
    from cli.catalog_cmd import app

    result = CliRunner().invoke(app, ["validate", "--export"])
    assert result.exit_code == 0, result.output
    reports = validate_export(demo_env / "catalog" / "healthdcat-ap.ttl")
    levels = {p.access_level for p in load_domains().products.values()}
    assert {r.level for r in reports} == levels
    assert sum(r.datasets for r in reports) == len(load_domains().products)
    for report in reports:
        assert report.violations == 0, report.findings
        assert f"{report.level.value} " in result.output


def test_cli_validate_lists_the_warnings_on_request(demo_env: Path) -> None:
    """`--warnings` lists each warning (property, message, count), so 90 is not a bare number."""
    from typer.testing import CliRunner

    from catalog.validation import validate_export
    from cli.catalog_cmd import app

    result = CliRunner().invoke(app, ["validate", "--export", "--warnings"])
    assert result.exit_code == 0, result.output
    listed = re.findall(r"^(\w+): warning (\d+) × ", result.output, flags=re.M)
    for report in validate_export(demo_env / "catalog" / "healthdcat-ap.ttl"):
        shown = sum(int(n) for level, n in listed if level == report.level.value)
        assert shown == report.warnings > 0, (report.level, result.output[-1500:])
    quiet = CliRunner().invoke(app, ["validate"])
    assert " warning " not in quiet.output


def test_quality_label_is_published_as_dqv_measurements_and_a_certificate(
    registry: Registry, facts: CatalogFacts, tmp_path: Path
) -> None:
    """The EHDS label (art. 78): a DQV measurement per element and per measured dimension,
    a certificate naming the level; the official shapes still find no violation."""
    from catalog.quality_label import quality_label

    dqv = ns.Namespace("http://www.w3.org/ns/dqv#")
    region = load_region(REGION_FILE)
    g = build_graph(registry, facts, {}, region)
    persons = registry.products["population/persons"]
    label = quality_label(persons, registry, facts)
    ds = dataset_uri(region, persons.ref)
    measured = {
        str(g.value(m, dqv.isMeasurementOf)).rsplit("/metric/", 1)[-1]: g.value(m, dqv.value)
        for m in g.objects(ds, dqv.hasQualityMeasurement)
    }
    assert measured["score"] == Literal(label.score, datatype=ns.XSD.integer)
    assert measured["technical_quality"].toPython() == pytest.approx(0.75)
    assert measured["technical_quality/validity"].toPython() == pytest.approx(0.5)
    assert "technical_quality/completeness" not in measured  # no rule measures it
    for m in g.objects(ds, dqv.hasQualityMeasurement):
        metric = g.value(m, dqv.isMeasurementOf)
        assert (metric, RDF.type, dqv.Metric) in g
        assert g.value(g.value(metric, dqv.inDimension), dqv.inCategory) is not None
    certificates = [
        str(g.value(a, ns.RDFS.comment))
        for a in g.objects(ds, dqv.hasQualityAnnotation)
        if "EHDS" in str(g.value(a, ns.RDFS.comment))
    ]
    assert certificates == [certificates[0]] and f"{label.score}/100" in certificates[0]
    assert label.level_title in certificates[0]
    ttl = tmp_path / "label.ttl"
    g.serialize(ttl, format="turtle")
    violations, lines = run_validator(ttl)
    assert violations == 0, "\n".join(lines)


def test_public_restricted_and_non_public_products_each_meet_their_own_level(
    registry: Registry, facts: CatalogFacts, tmp_path: Path
) -> None:
    """With one product per access level, each is validated against the R8 shapes of its
    own level (recommended included) and none leaves a violation."""
    from catalog.validation import validate_export

    levels = {
        "population/persons": AccessLevel.restricted,
        "patient_administration/contacts": AccessLevel.public,
    }
    assert set(levels) <= set(registry.products)
    products = {
        ref: p.model_copy(update={"access_level": levels.get(ref, p.access_level)})
        for ref, p in registry.products.items()
    }
    mixed = registry.model_copy(update={"products": products})
    ttl = tmp_path / "mixed.ttl"
    build_graph(mixed, facts, {}, load_region(REGION_FILE)).serialize(ttl, format="turtle")
    reports = {r.level: r for r in validate_export(ttl, recommended=True)}
    assert set(reports) == set(AccessLevel)
    assert reports[AccessLevel.restricted].datasets == 1
    assert reports[AccessLevel.public].datasets == 1
    for report in reports.values():
        assert report.violations == 0, (report.level, report.findings)


def test_every_dataset_links_a_synthetic_sample_made_from_its_spec(
    registry: Registry, facts: CatalogFacts, tmp_path: Path
) -> None:
    """``adms:sample``: a CSV of made-up rows with the published columns, drawn from the
    spec (code lists, in_set values) and never from the lake; the same spec, the same rows."""
    import csv

    from catalog.links import CatalogueLinks
    from catalog.samples import ROWS, sample_rows, write_sample
    from regionlab import codelists

    region = load_region(REGION_FILE)
    g = build_graph(registry, facts, {}, region)
    links = CatalogueLinks.from_region(region)
    for ref, product in registry.products.items():
        sample = g.value(
            dataset_uri(region, ref), ns.Namespace("http://www.w3.org/ns/adms#").sample
        )
        assert sample is not None, ref
        assert g.value(sample, ns.DCAT.downloadURL) == URIRef(links.sample(ref))
        assert g.value(sample, ns.DCTERMS.format) == URIRef(f"{EU}file-type/CSV")
        assert "Ingen rækker fra datasøen" in str(g.value(sample, ns.DCTERMS.description))
        path = write_sample(product, tmp_path)
        with path.open(encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
        assert len(rows) == ROWS
        assert list(rows[0]) == [c.name for c in product.published_columns]
        assert sample_rows(product) == sample_rows(product)
        for col in product.published_columns:
            if col.code_system is not None:
                known = codelists.codes(col.code_system.value)
                assert {r[col.name] for r in rows} <= known, (ref, col.name)
            if col.name == "person_key":
                assert all(re.fullmatch("[0-9a-f]{64}", r[col.name]) for r in rows)
