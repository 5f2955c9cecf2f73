"""The EHDS data quality and utility label (Regulation (EU) 2025/327, art. 78) per product.

Article 78 names what a label covers: data documentation, technical quality
(completeness, uniqueness, accuracy/validity, timeliness, consistency),
coverage, information on access and provision (time from collection to
availability) and data enrichments (links with other datasets, annotation).
The Commission's implementing act will fix the official scale; until then
regionlab computes a label from what the platform already measures, with this
scoring — every input is a spec field, a count from the lake or a result from
the quality history, never a value:

=====================  ======  ===============================================================
element                weight  score (0–1)
=====================  ======  ===============================================================
documentation          20 %    share of the checklist :data:`DOC_ITEMS` the spec fills
technical quality      35 %    mean over the measured dimensions of the share of the product's
                               rules of that dimension that passed in its latest audit
                               (accuracy and conformity rules count as validity); nothing
                               measured scores 0
coverage               15 %    mean of: years of temporal coverage / 10 (at most 1), and, for
                               person-level products, individuals / individuals of the
                               population register
availability           15 %    days from the newest extract (collection) to the publish of the
                               current snapshot: ≤ 1 → 1, ≤ 7 → 0.8, ≤ 30 → 0.5, ≤ 90 → 0.25,
                               later or unknown → 0
enrichment             15 %    share of: linkable with another product (same pseudonym key),
                               columns coded in a standard code system, labelled (annotation
                               task), used by derived products
=====================  ======  ===============================================================

The score is the weighted sum × 100, rounded; the level is platinum ≥ 90, gold
≥ 75, silver ≥ 60, bronze ≥ 40, otherwise none. An element that cannot be
measured yet (no audit, no publish) scores 0: a label rewards evidence.
"""

from __future__ import annotations

from collections.abc import Callable

from pydantic import BaseModel, ConfigDict

from catalog.facts import CatalogFacts, newest_extract
from catalog.lake_stats import PERSONS, ProductStats
from regionlab.results import Status
from regionlab.spec import Product, Registry
from regionlab.spec.vocab import OwnerRole

WEIGHTS = {
    "documentation": 0.20,
    "technical_quality": 0.35,
    "coverage": 0.15,
    "availability": 0.15,
    "enrichment": 0.15,
}
ELEMENT_TITLES = {
    "documentation": "Dokumentation",
    "technical_quality": "Teknisk kvalitet",
    "coverage": "Dækning",
    "availability": "Tilgængelighed (fra indsamling til adgang)",
    "enrichment": "Berigelse (kobling, kodning, annotering)",
}
#: Article 78's technical-quality dimensions, and the rule dimensions that measure each.
DIMENSIONS = {
    "completeness": ("completeness",),
    "uniqueness": ("uniqueness",),
    "validity": ("conformity", "accuracy"),
    "consistency": ("consistency",),
    "timeliness": ("timeliness",),
}
DIMENSION_TITLES = {
    "completeness": "Fuldstændighed",
    "uniqueness": "Unikhed",
    "validity": "Validitet og korrekthed",
    "consistency": "Konsistens",
    "timeliness": "Aktualitet",
}
LEVELS = (
    (90, "platinum", "Platin"),
    (75, "gold", "Guld"),
    (60, "silver", "Sølv"),
    (40, "bronze", "Bronze"),
)
NO_LEVEL = ("none", "Intet mærke")
LEVEL_TITLES = dict((code, title) for _, code, title in LEVELS) | dict([NO_LEVEL])
#: Years of temporal coverage that count as full coverage.
FULL_COVERAGE_YEARS = 10
#: (at most this many days from collection to availability, score).
AVAILABILITY_STEPS = ((1, 1.0), (7, 0.8), (30, 0.5), (90, 0.25))


def _described(product: Product) -> bool:
    return all(c.description.strip() for c in product.published_columns)


def _steward(product: Product) -> bool:
    return any(o.role is OwnerRole.data_steward for o in product.owners)


def _legal(product: Product) -> bool:
    legal = product.legal_basis
    return bool(legal.gdpr_article_6 and (legal.national or legal.description))


def _terms(product: Product) -> bool:
    return bool(product.glossary_terms or any(c.glossary_terms for c in product.columns))


#: The documentation checklist: (Danish name, test on the spec).
DOC_ITEMS: tuple[tuple[str, Callable[[Product], bool]], ...] = (
    ("beskrivelse (mindst 80 tegn)", lambda p: len(p.description.strip()) >= 80),
    ("formål", lambda p: bool(p.purpose.strip())),
    ("hver kolonne beskrevet", _described),
    ("dataansvarlig (steward)", _steward),
    ("hjemmel med national lov eller begrundelse", _legal),
    ("begrundet opbevaringsperiode", lambda p: bool(p.retention.justification.strip())),
    ("begreber fra ordlisten", _terms),
    ("nøgleord", lambda p: bool(p.keywords)),
)


class LabelElement(BaseModel):
    model_config = ConfigDict(extra="forbid")

    key: str
    title: str
    weight: float
    score: float
    #: What the score rests on, in Danish, counts and names only.
    basis: str


class QualityLabel(BaseModel):
    """One product's label: level, score and what each element rests on."""

    model_config = ConfigDict(extra="forbid")

    product_ref: str
    score: int
    level: str
    level_title: str
    elements: list[LabelElement]
    #: Technical quality per Article 78 dimension (None: no rule measures it).
    dimensions: dict[str, float | None]

    def element(self, key: str) -> LabelElement:
        return next(e for e in self.elements if e.key == key)


def _documentation(product: Product) -> tuple[float, str]:
    missing = [name for name, test in DOC_ITEMS if not test(product)]
    done = len(DOC_ITEMS) - len(missing)
    basis = f"{done} af {len(DOC_ITEMS)} dokumentationskrav opfyldt"
    return done / len(DOC_ITEMS), basis + (f"; mangler: {', '.join(missing)}" if missing else "")


def _dimensions(product: Product, facts: CatalogFacts) -> dict[str, tuple[int, int]]:
    """(passed, judged) per dimension in the latest audit, counting the spec's rules only."""
    runs = sorted(facts.quality.get(product.ref, []), key=lambda r: (r.checked_at, r.run_id))
    out = {key: (0, 0) for key in DIMENSIONS}
    if not runs:
        return out
    rules = {r.id: r.dimension for r in product.quality}
    for result in runs[-1].results:
        rule_dimension = rules.get(result.check)
        if rule_dimension is None or result.status is Status.errored:
            continue
        for key, members in DIMENSIONS.items():
            if rule_dimension in members:
                passed, judged = out[key]
                out[key] = (passed + (result.status is Status.passed), judged + 1)
    return out


def _technical(product: Product, facts: CatalogFacts) -> tuple[float, str, dict[str, float | None]]:
    counts = _dimensions(product, facts)
    shares = {k: (p / n if n else None) for k, (p, n) in counts.items()}
    measured = [v for v in shares.values() if v is not None]
    if not measured:
        return 0.0, "ingen kvalitetsregler vurderet endnu", shares
    parts = [f"{DIMENSION_TITLES[k].lower()} {p}/{n}" for k, (p, n) in counts.items() if n]
    return (
        sum(measured) / len(measured),
        "regler bestået ved seneste kontrol: " + ", ".join(parts),
        shares,
    )


def _coverage(
    product: Product, registry: Registry, facts: CatalogFacts, stats: ProductStats | None
) -> tuple[float, str]:
    if stats is None:
        return 0.0, "dækning ikke målt"
    scores, parts = [], []
    end = stats.coverage_end
    extract = newest_extract(product, registry, facts)
    if end is not None and extract is not None:
        end = min(end, extract)  # future-dated rows say nothing about the period covered
    if stats.coverage_start is not None and end is not None:
        years = max((end - stats.coverage_start).days, 0) / 365.25
        scores.append(min(years / FULL_COVERAGE_YEARS, 1.0))
        parts.append(f"{years:.1f} år ({stats.coverage_start:%Y}–{end:%Y})".replace(".", ","))
    population = facts.stats.get(PERSONS)
    if stats.individuals is not None and population and population.individuals:
        share = min(stats.individuals / population.individuals, 1.0)
        scores.append(share)
        parts.append(f"{share:.0%} af befolkningsregistrets personer")
    if not scores:
        return 0.0, "dækning ikke målt"
    return sum(scores) / len(scores), ", ".join(parts)


def _availability(product: Product, registry: Registry, facts: CatalogFacts) -> tuple[float, str]:
    state = facts.product(product.ref)
    collected = newest_extract(product, registry, facts)
    if state.published_at is None or collected is None:
        return 0.0, "tid fra indsamling til adgang ikke målt"
    days = max((state.published_at.date() - collected).days, 0)
    score = next((s for limit, s in AVAILABILITY_STEPS if days <= limit), 0.0)
    unit = "dag" if days == 1 else "dage"
    return score, f"{days} {unit} fra nyeste udtræk til publicering"


def _enrichment(product: Product, registry: Registry, facts: CatalogFacts) -> tuple[float, str]:
    key = facts.product(product.ref).key_id
    items = {
        "kan kobles med andre produkter": bool(key)
        and any(r != product.ref and facts.product(r).key_id == key for r in registry.products),
        "standardkodede kolonner": any(
            c.code_system or c.terminologies for c in product.published_columns
        ),
        "annoteret (labelling)": bool(product.labeling),
        "bruges af afledte produkter": bool(registry.downstream(product.ref)),
    }
    found = [name for name, ok in items.items() if ok]
    basis = ", ".join(found) if found else "ingen berigelser"
    return len(found) / len(items), basis


def _level(score: int) -> tuple[str, str]:
    return next(((code, title) for limit, code, title in LEVELS if score >= limit), NO_LEVEL)


def quality_label(product: Product, registry: Registry, facts: CatalogFacts) -> QualityLabel:
    """The label of ``product`` from its spec, the lake's counts and its quality history."""
    doc, doc_basis = _documentation(product)
    tech, tech_basis, shares = _technical(product, facts)
    cov, cov_basis = _coverage(product, registry, facts, facts.stats.get(product.ref))
    avail, avail_basis = _availability(product, registry, facts)
    enrich, enrich_basis = _enrichment(product, registry, facts)
    scored = {
        "documentation": (doc, doc_basis),
        "technical_quality": (tech, tech_basis),
        "coverage": (cov, cov_basis),
        "availability": (avail, avail_basis),
        "enrichment": (enrich, enrich_basis),
    }
    elements = [
        LabelElement(
            key=key,
            title=ELEMENT_TITLES[key],
            weight=WEIGHTS[key],
            score=round(value, 3),
            basis=basis,
        )
        for key, (value, basis) in scored.items()
    ]
    total = round(100 * sum(WEIGHTS[k] * v for k, (v, _) in scored.items()))
    code, title = _level(total)
    return QualityLabel(
        product_ref=product.ref,
        score=total,
        level=code,
        level_title=title,
        elements=elements,
        dimensions={k: (round(v, 3) if v is not None else None) for k, v in shares.items()},
    )


def label_properties(label: QualityLabel) -> dict[str, str]:
    """The label as custom properties (``ehds_label.*``), which the site shows."""
    out = {
        "ehds_label.level": label.level,
        "ehds_label.level_title": label.level_title,
        "ehds_label.score": str(label.score),
    }
    for element in label.elements:
        out[f"ehds_label.{element.key}"] = f"{element.score:.3f}"
        out[f"ehds_label.{element.key}.basis"] = element.basis
    for key, share in label.dimensions.items():
        if share is not None:
            out[f"ehds_label.dimension.{key}"] = f"{share:.3f}"
    return out


LABEL_LEVEL = "regionlab.ehds_quality_label"
LABEL_SCORE = "regionlab.ehds_quality_score"


def label_values(label: QualityLabel) -> dict[str, list[str | float]]:
    """The label's structured-property values (level and score), for DataHub's filters."""
    return {LABEL_LEVEL: [label.level], LABEL_SCORE: [float(label.score)]}
