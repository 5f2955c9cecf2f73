"""Model cards: one YAML file per AI model under ``models/``, validated like product specs.

A card is the contract a local validation is judged against: which initiative of
the register the model serves, what it is for, what it outputs, where its
predictions and the ground truth are and how they join, which subgroups the
report splits by, which metrics must reach which thresholds, how often the
monitoring re-runs, and what the synthetic region's signal is (so nobody reads
demo numbers as clinical evidence). ``regionlab check`` reports every problem as
``file: field.path: message (hint)`` with the same renderer as the product specs.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from regionlab.spec.models import Owner, Registry
from regionlab.spec.problems import SpecProblem, from_validation_error

CARD_SCHEMA_FILE = "model.schema.json"

OutputType = Literal["probability", "class", "spans"]
Subgroup = Literal["sex", "age_band", "municipality", "department"]
BinaryMetric = Literal[
    "auroc", "brier", "calibration_slope", "calibration_intercept",
    "sensitivity", "specificity", "ppv",
]  # fmt: skip
SpanMetric = Literal["precision", "recall", "f1"]
AT_THRESHOLD: frozenset[str] = frozenset({"sensitivity", "specificity", "ppv"})
_INITIATIVE = re.compile(r"^INI-[0-9]{3,}$")
_ID = re.compile(r"^[a-z][a-z0-9_]*$")


class _Card(BaseModel):
    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)


class Join(_Card):
    """How a prediction row finds its ground truth."""

    prediction_key: str
    """Column of the predictions product (e.g. contact_id, row_key)."""
    truth_key: str
    """Column of the ground-truth product (e.g. index_contact_id, row_key)."""


class PredictionsAbout(_Card):
    """Which product's rows the predictions are about: erasure and retention follow it.

    A prediction row names no person, but it points at a row that does (a contact,
    a note). When that row goes, so does its prediction, in the same snapshot.
    """

    product: str
    """The product (e.g. patient_administration/contacts, clinical_notes/notes)."""
    key: str
    """Column of the predictions holding that product's row key (``|``-joined if several)."""


class GroundTruth(_Card):
    product: str
    """Product ref: an outcome product (research/readmissions_30d) or a labelled product
    (labels/clinical_notes__notes__entities)."""
    kind: Literal["outcome", "labelled"]
    join: Join
    positive_when: Literal["present", "label"] = "present"
    """Outcome products: a prediction is positive-labelled when its key is present."""
    agreement_from: str | None = None
    """Labelled products: the quality-history product whose agreement the report quotes."""


class TestSetSpec(_Card):
    """How the labelled ground truth's test set is drawn (``regionlab labeling push --test-set``).

    Stratified by the card's subgroups (or ``strata``), reproducible from ``seed``, and a
    share of every stratum goes to ``annotators`` annotators so the report can state the
    ground truth's agreement.
    """

    size: int = Field(ge=1, le=100_000)
    """Documents drawn in all (each stratum gets its proportional share)."""
    seed: int = Field(0, ge=0)
    strata: list[Subgroup] = Field(default_factory=list)
    """Dimensions to stratify by (default: the card's subgroups; none: one stratum)."""
    min_per_stratum: int = Field(5, ge=1)
    """Floor per stratum, so a rare subgroup is not drawn away."""
    overlap: float = Field(0.2, gt=0, le=1)
    """Share of every stratum labelled by several annotators."""
    annotators: int = Field(2, ge=2, le=10)


class Window(_Card):
    start: str = Field(pattern=r"^\d{4}-\d{2}-\d{2}$")
    end: str = Field(pattern=r"^\d{4}-\d{2}-\d{2}$")


class Training(_Card):
    products: list[str] = Field(default_factory=list)
    """Products the model was trained on (lineage in the catalogue)."""
    workspace: str | None = None
    """The permit project whose workspace the model is trained in."""
    window: Window | None = None
    """Index dates used for training (temporal split)."""


class Acceptance(_Card):
    """A metric and the bounds that make the status warn or block.

    ``*_below`` bounds are for higher-is-better metrics, ``*_above`` for
    lower-is-better ones (Brier) or two-sided ones (calibration slope).
    """

    metric: BinaryMetric | SpanMetric
    at: float | None = Field(None, ge=0, le=1)
    """Decision threshold for sensitivity, specificity and PPV."""
    label: str | None = None
    """Span models: the entity label (omit for the micro average over all labels)."""
    warn_below: float | None = None
    block_below: float | None = None
    warn_above: float | None = None
    block_above: float | None = None


class Disparity(_Card):
    """Smallest subgroup-to-best-subgroup ratio of a metric allowed (Fairlearn's ratio)."""

    metric: Literal["sensitivity", "specificity", "ppv", "selection_rate"]
    at: float = Field(ge=0, le=1)
    warn_below: float = Field(0.8, gt=0, le=1)
    subgroups: list[Subgroup] = Field(default_factory=list)
    """Dimensions judged (default: all of the card's subgroups). Leave out a dimension the
    model uses as a legitimate risk factor (age for readmission), where unequal rates are
    the model working, not a disparity."""


class Drift(_Card):
    features: list[str] = Field(default_factory=list)
    psi_warn: float = Field(0.1, gt=0)
    psi_block: float = Field(0.25, gt=0)


class Monitoring(_Card):
    schedule: str = Field(pattern=r"^\S+ \S+ \S+ \S+ \S+$")
    """Cron expression (Dagster schedule); a sensor also re-runs on each new snapshot."""
    on_new_snapshot: bool = True
    watch: list[str] = Field(default_factory=list)
    """Further products whose new snapshots re-run the validation (with on_new_snapshot),
    e.g. the streaming product a model scores, such as laboratory/epj_observations: each
    micro-batch is a publish snapshot, and the sensor (every 5 minutes) picks up the newest."""
    drift: Drift | None = None


class ModelCard(_Card):
    """One AI model the region validates locally (``models/<id>.yaml``)."""

    id: str
    title: str
    version: str
    initiative: str
    """Initiative id in the register (domains/initiatives), e.g. INI-002."""
    owners: list[Owner] = Field(min_length=1)
    intended_use: str
    not_intended_for: str | None = None
    output: OutputType
    predictions: str
    """The product holding the model's predictions (models/<id>__predictions)."""
    predictions_about: PredictionsAbout
    ground_truth: GroundTruth
    training: Training = Field(default_factory=Training)
    subgroups: list[Subgroup] = Field(default_factory=list)
    thresholds: list[float] = Field(default_factory=list)
    """Decision thresholds reported for probability models."""
    metrics: list[Acceptance] = Field(min_length=1)
    disparity: list[Disparity] = Field(default_factory=list)
    test_set: TestSetSpec | None = None
    """Labelled ground truth: how its test set is drawn for Label Studio."""
    monitoring: Monitoring
    synthetic_signal: str
    """What signal the synthetic region carries for this model, so the numbers mean something."""

    @property
    def ref(self) -> str:
        return f"models/{self.id}"


def _semantic(card: ModelCard, path: Path, registry: Registry | None) -> list[SpecProblem]:
    """Cross-field problems pydantic cannot see, each naming the field to fix."""
    out: list[SpecProblem] = []

    def problem(field: str, message: str, hint: str = "") -> None:
        out.append(SpecProblem(path, field, message, hint))

    if card.id != path.stem:
        problem("id", f"'{card.id}' differs from file name", f"set id: {path.stem}")
    if not _ID.match(card.id):
        problem("id", "not a lower-case identifier", "use letters, digits and _")
    if not _INITIATIVE.match(card.initiative):
        problem("initiative", f"'{card.initiative}' is not an initiative id", "e.g. INI-002")
    if card.predictions != f"models/{card.id}__predictions":
        problem("predictions", "not the model's predictions product",
                f"set predictions: models/{card.id}__predictions")  # fmt: skip
    spans = card.output == "spans"
    for i, m in enumerate(card.metrics):
        where = f"metrics[{i}]"
        span_metric = m.metric in ("precision", "recall", "f1")
        if spans != span_metric:
            kind = "span" if spans else "binary"
            problem(f"{where}.metric", f"'{m.metric}' is not a {kind} metric",
                    "spans: precision, recall, f1; else auroc, brier, calibration_*, "
                    "sensitivity, specificity, ppv")  # fmt: skip
        if m.metric in AT_THRESHOLD and m.at is None:
            problem(f"{where}.at", f"{m.metric} needs a decision threshold", "add at: 0.2")
        if m.at is not None and m.metric in AT_THRESHOLD and m.at not in card.thresholds:
            problem(f"{where}.at", f"threshold {m.at} is not in thresholds", "add it there")
        if m.label is not None and not spans:
            problem(f"{where}.label", "labels are for span models", "remove label")
        if all(v is None for v in (m.warn_below, m.block_below, m.warn_above, m.block_above)):
            problem(where, "no acceptance bound", "add warn_below/block_below or *_above")
        for lo, hi in (("block_below", "warn_below"), ("warn_above", "block_above")):
            a, b = getattr(m, lo), getattr(m, hi)
            if a is not None and b is not None and a > b:
                problem(f"{where}.{lo}", f"{lo} {a} is above {hi} {b}", "block is the worse side")
    if spans and (card.thresholds or card.disparity):
        problem("thresholds", "span models have no decision thresholds", "remove them")
    if card.output == "probability" and not card.thresholds:
        problem("thresholds", "a probability model needs at least one threshold", "e.g. [0.2]")
    gt = card.ground_truth
    if gt.kind == "labelled" and not gt.product.startswith("labels/"):
        problem("ground_truth.product", "a labelled ground truth lives under labels/",
                "e.g. labels/clinical_notes__notes__entities")  # fmt: skip
    if card.test_set is not None and gt.kind != "labelled":
        problem("test_set", "a test set is drawn for a labelled ground truth only",
                "remove test_set or use a labels/ ground truth")  # fmt: skip
    if registry is not None:
        if gt.kind == "outcome" and gt.product not in registry.products:
            problem("ground_truth.product", f"unknown product {gt.product}",
                    "name a product under domains/")  # fmt: skip
        elif gt.kind == "outcome":
            columns = {c.name for c in registry.products[gt.product].columns}
            if gt.join.truth_key not in columns:
                problem("ground_truth.join.truth_key",
                        f"{gt.product} has no column {gt.join.truth_key}",
                        ", ".join(sorted(columns)))  # fmt: skip
        about = card.predictions_about
        if about.product not in registry.products:
            problem("predictions_about.product", f"unknown product {about.product}",
                    "name the product whose rows are predicted")  # fmt: skip
        for i, ref in enumerate(card.monitoring.watch):
            if ref not in registry.products:
                problem(f"monitoring.watch[{i}]", f"unknown product {ref}",
                        "name a product (or stream) under domains/")  # fmt: skip
        for i, ref in enumerate(card.training.products):
            if ref not in registry.products:
                problem(f"training.products[{i}]", f"unknown product {ref}",
                        "name a product under domains/")  # fmt: skip
    for i, d in enumerate(card.disparity):
        for g in d.subgroups:
            if g not in card.subgroups:
                problem(f"disparity[{i}].subgroups", f"'{g}' is not in subgroups", "add it there")
    drift = card.monitoring.drift
    if drift is not None and drift.psi_warn > drift.psi_block:
        problem("monitoring.drift.psi_warn", "psi_warn is above psi_block", "warn first")
    return out


def load_card(path: Path, registry: Registry | None = None) -> tuple[ModelCard | None, list]:
    """One card and its problems (schema first, then the cross-field checks)."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        return None, [SpecProblem(path, "(file)", f"not valid YAML: {type(exc).__name__}",
                                  "fix the syntax")]  # fmt: skip
    if not isinstance(data, dict):
        return None, [SpecProblem(path, "(file)", "expected a mapping of fields",
                                  "see models/README.md")]  # fmt: skip
    try:
        card = ModelCard.model_validate(data)
    except ValidationError as exc:
        return None, from_validation_error(path, exc, data, ModelCard)
    return card, _semantic(card, path, registry)


def collect_cards(
    root: Path, registry: Registry | None = None
) -> tuple[dict[str, ModelCard], list[SpecProblem]]:
    """Every card under ``root`` (missing folder: none) with all problems."""
    cards: dict[str, ModelCard] = {}
    problems: list[SpecProblem] = []
    if not root.is_dir():
        return cards, problems
    for path in sorted(root.glob("*.yaml")):
        card, found = load_card(path, registry)
        problems += found
        if card is not None and not found:
            cards[card.id] = card
    return cards, problems


def render_schema() -> str:
    schema = ModelCard.model_json_schema(mode="validation")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    return json.dumps(schema, indent=2, ensure_ascii=False, sort_keys=True) + "\n"


def schema_stale(root: Path) -> list[Path]:
    path = root / CARD_SCHEMA_FILE
    if not root.is_dir():
        return []
    fresh = path.exists() and path.read_text(encoding="utf-8") == render_schema()
    return [] if fresh else [path]


def write_schema(root: Path) -> list[Path]:
    if not root.is_dir():
        return []
    path = root / CARD_SCHEMA_FILE
    path.write_text(render_schema(), encoding="utf-8")
    return [path]


def get_card(model_id: str, root: Path, registry: Registry | None = None) -> ModelCard:
    """The named card, or a :class:`UserError` naming the file and its problems."""
    from regionlab.errors import UserError

    path = root / f"{model_id}.yaml"
    if not path.exists():
        known = sorted(p.stem for p in root.glob("*.yaml")) if root.is_dir() else []
        raise UserError(f"no model card {path}; known models: {', '.join(known) or 'none'}")
    card, problems = load_card(path, registry)
    if card is None or problems:
        lines = "\n".join(p.render(root.parent) for p in problems)
        raise UserError(f"model card {path.name} has problems:\n{lines}\nrun `regionlab check`")
    return card
