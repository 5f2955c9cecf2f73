"""Fixed specs and fixed facts for the catalogue tests, so the emission is deterministic."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from catalog.erasure_facts import ErasureFacts
from catalog.facts import CatalogFacts, ColumnProfile, PipelineRun, ProductFacts, QualityRun
from catalog.lake_stats import ProductStats
from catalog.links import CatalogueLinks
from regionlab.results import CheckResult, Status
from regionlab.spec import Registry, load_domains

HERE = Path(__file__).parent
FIXTURE_DOMAINS = HERE / "fixtures" / "domains"
GOLDEN = HERE / "golden" / "metadata.json"
UPDATE_GOLDEN_ENV = "REGIONLAB_UPDATE_GOLDEN"

T0 = dt.datetime(2025, 3, 1, 6, 0, tzinfo=dt.UTC)
#: The region's addresses as the golden emission links them.
LINKS = CatalogueLinks(
    site="https://data.example.dk/katalog", access_service="https://data.example.dk/adgang"
)

# Planted secrets: none of these may ever appear in the emitted metadata.
PLANTED_CPR = "010203-1234"
PLANTED_PSEUDONYM = "9f" * 32
PLANTED_NAME = "Kirstine Østergaard"
PLANTED_KEY = "c2VjcmV0LWtleS1kby1ub3QtbGVhaw=="


def fixture_registry() -> Registry:
    return load_domains(FIXTURE_DOMAINS)


def _result(
    check: str,
    status: Status,
    unexpected: int,
    total: int,
    *,
    category: str = "conformance",
    severity: str = "blocking",
    description: str = "",
    detail: str = "",
) -> CheckResult:
    return CheckResult(
        check=check,
        category=category,
        severity=severity,
        status=status,
        description=description,
        unexpected_count=unexpected,
        element_count=total,
        detail=detail,
    )


def fixed_facts() -> CatalogFacts:
    """Two audits of persons (the older one failed), one of contacts and readmissions.

    The failing results carry the kind of `detail` a careless check could
    write — a CPR number, a pseudonym, a name, a key — to prove none of it
    reaches the catalogue.
    """
    leaky = f"value {PLANTED_CPR} for {PLANTED_NAME}, key {PLANTED_PSEUDONYM} ({PLANTED_KEY})"
    return CatalogFacts(
        generated_at=T0 + dt.timedelta(hours=2),
        products={
            "population/persons": ProductFacts(
                snapshot_id=7,
                row_count=1200,
                newest_extract=dt.date(2025, 2, 28),
                published_at=T0 + dt.timedelta(minutes=5),
                key_id="a1b2c3d4e5f60718",
                run_id="run-0002",
                columns=[
                    ColumnProfile(name="person_key", null_count=0, distinct_count=1200),
                    ColumnProfile(name="sex", null_count=0, distinct_count=2),
                    ColumnProfile(name="death_month", null_count=1100, distinct_count=37),
                ],
            ),
            "patient_administration/contacts": ProductFacts(
                snapshot_id=8,
                row_count=5400,
                newest_extract=dt.date(2025, 2, 28),
                published_at=T0 + dt.timedelta(minutes=9),
                key_id="a1b2c3d4e5f60718",
                run_id="run-0002",
            ),
            "research/readmissions_30d": ProductFacts(
                snapshot_id=9,
                row_count=310,
                published_at=T0 + dt.timedelta(minutes=12),
                key_id="a1b2c3d4e5f60718",
                run_id="run-0002",
            ),
        },
        quality={
            "population/persons": [
                QualityRun(
                    run_id="run-0001",
                    checked_at=T0 - dt.timedelta(days=7),
                    snapshot_id=None,
                    results=[
                        _result("person_key_unique", Status.failed, 3, 1190, detail=leaky),
                        _result("sex_valid", Status.passed, 0, 1190),
                        _result(
                            "privacy_identifier_scan",
                            Status.failed,
                            2,
                            1190,
                            category="privacy",
                            detail=leaky,
                            description=f"CPR-shaped value {PLANTED_CPR} found",
                        ),
                    ],
                ),
                QualityRun(
                    run_id="run-0002",
                    checked_at=T0 + dt.timedelta(minutes=4),
                    snapshot_id=7,
                    results=[
                        _result("person_key_unique", Status.passed, 0, 1200),
                        _result("sex_valid", Status.passed, 0, 1200),
                        _result(
                            "municipality_in_region",
                            Status.failed,
                            12,
                            1200,
                            severity="warning",
                            detail=leaky,
                        ),
                        _result(
                            "privacy_identifier_scan",
                            Status.passed,
                            0,
                            1200,
                            category="privacy",
                            description="No CPR numbers, phone numbers or names in text.",
                        ),
                    ],
                ),
            ],
            "patient_administration/contacts": [
                QualityRun(
                    run_id="run-0002",
                    checked_at=T0 + dt.timedelta(minutes=8),
                    snapshot_id=8,
                    results=[_result("contact_id_unique", Status.passed, 0, 5400)],
                ),
            ],
            "research/readmissions_30d": [
                QualityRun(
                    run_id="run-0002",
                    checked_at=T0 + dt.timedelta(minutes=11),
                    snapshot_id=9,
                    results=[_result("days_within_window", Status.passed, 0, 310)],
                ),
            ],
        },
        stats={
            "population/persons": ProductStats(
                individuals=1200,
                coverage_start=dt.date(2015, 1, 1),
                coverage_end=dt.date(2025, 2, 1),
            ),
            "patient_administration/contacts": ProductStats(
                individuals=900,
                coverage_start=dt.date(2020, 3, 1),
                coverage_end=dt.date(2025, 2, 28),
            ),
        },
        runs=[
            PipelineRun(
                run_id="run-0001",
                started_at=T0 - dt.timedelta(days=7),
                ended_at=T0 - dt.timedelta(days=7) + dt.timedelta(minutes=3),
                status="failure",
                products=["population/persons"],
            ),
            PipelineRun(
                run_id="run-0002",
                started_at=T0,
                ended_at=T0 + dt.timedelta(minutes=12),
                status="success",
                products=[
                    "population/persons",
                    "patient_administration/contacts",
                    "research/readmissions_30d",
                ],
            ),
        ],
        initiatives=[
            {
                "initiative_id": "INI-001",
                "name": "Prædiktion af genindlæggelser",
                "kind": "AI",
                "phase": "afprøvning",
                "owner": "Klinisk kvalitetschef",
                "department": "OUH",
                "ai_act_risk": "høj",
                "products": "research/readmissions_30d;patient_administration/contacts",
                "started": dt.date(2024, 5, 1),
                "description": "Risikoscore ved udskrivelse.",
            },
            {
                "initiative_id": "INI-002",
                "name": "Robot til henvisningsvisitation",
                "kind": "RPA",
                "phase": "drift",
                "owner": "Visitationsenheden",
                "department": "SLB",
                "ai_act_risk": "ikke relevant",
                "products": "population/persons;medication/prescriptions",
                "started": dt.date(2023, 1, 15),
                "description": "Sorterer henvisninger.",
            },
        ],
    )


RETENTION_AT = T0 + dt.timedelta(days=1)
ERASURE_AT = T0 + dt.timedelta(days=2)


def with_erasure_facts(facts: CatalogFacts) -> CatalogFacts:
    """``facts`` plus retention and erasure counts for population/persons only."""
    return facts.model_copy(
        update={
            "erasure": {
                "population/persons": ErasureFacts(
                    retention_last_run=RETENTION_AT,
                    retention_as_of=dt.date(2025, 3, 1),
                    retention_rows_removed_last_run=17,
                    erasure_requests_applied=3,
                    erasure_requests_touching=2,
                    erasure_last_applied=ERASURE_AT,
                )
            }
        }
    )
