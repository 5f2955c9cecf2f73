"""The region's AI models as DataHub ``mlModel`` entities in ``mlModelGroup`` families.

Read from files the model runner writes (``models/<id>.yaml`` cards and
``var/models/<id>/{model,report}.json``), so the catalogue imports no model code
and needs no lake connection. Each model carries:

- ``mlModelProperties``: name, version, type, the latest validation status and the
  training metrics (rows, outcome rate) and evaluation metrics (the report's
  headline with 95 % intervals) as ``MLMetric`` rows;
- ``mlModelTrainingData`` / ``mlModelEvaluationData``: the datasets it was trained
  on, and the predictions and ground-truth products it was validated on — DataHub
  draws these as the model's lineage;
- ``intendedUse``, ``mlModelEthicalConsiderations`` (the card's synthetic-signal
  statement, so nobody reads demo numbers as clinical evidence), ownership and
  ``applications``: the initiative of the register it serves;
- a link to its HTML validation report.

The predictions product becomes a dataset with upstream lineage from the products
that were scored (no ``datasetProperties``: it is not a data product of the region, so
the site and the HealthDCAT-AP export, which list products, leave it out). A model
that has never been validated is emitted with its card facts only.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from datahub.emitter import mce_builder as b
from datahub.metadata.schema_classes import (
    ApplicationsClass,
    BaseDataClass,
    DatasetLineageTypeClass,
    EthicalConsiderationsClass,
    EvaluationDataClass,
    InstitutionalMemoryClass,
    InstitutionalMemoryMetadataClass,
    IntendedUseClass,
    IntendedUserTypeClass,
    MLMetricClass,
    MLModelGroupPropertiesClass,
    MLModelPropertiesClass,
    StatusClass,
    SubTypesClass,
    TrainingDataClass,
    UpstreamClass,
    UpstreamLineageClass,
    VersionTagClass,
)
from pydantic import BaseModel, ConfigDict, Field

from catalog import urns
from catalog.common import MCP, ownership, proposal, props, stamp
from regionlab.aimodels.disclosure import public_training
from regionlab.spec.models import Owner

SUBTYPE = "AI Model"
log = logging.getLogger(__name__)


class ModelFacts(BaseModel):
    """What the catalogue says about one model: card facts, training and last validation."""

    model_config = ConfigDict(extra="ignore")

    model_id: str
    title: str
    version: str
    initiative: str
    output: str
    intended_use: str
    not_intended_for: str | None = None
    synthetic_signal: str
    owners: list[Owner] = Field(default_factory=list)
    training_products: list[str] = Field(default_factory=list)
    predictions: str
    ground_truth: str
    predicted_from: list[str] = Field(default_factory=list)
    training: dict[str, Any] = Field(default_factory=dict)
    status: str | None = None
    validated_at: str | None = None
    snapshot_id: int | None = None
    headline: dict[str, dict[str, float | None]] = Field(default_factory=dict)
    report_url: str | None = None
    trend: list[str] = Field(default_factory=list)  # last statuses, oldest first


def model_urn(model_id: str, version: str) -> str:
    return b.make_ml_model_urn(urns.PLATFORM, f"regionlab.models.{model_id}.v{version}", urns.ENV)


def group_urn(model_id: str) -> str:
    return b.make_ml_model_group_urn(urns.PLATFORM, f"regionlab.models.{model_id}", urns.ENV)


def _metric(name: str, est: dict[str, float | None]) -> MLMetricClass:
    value = est.get("value")
    low, high = est.get("low"), est.get("high")
    ci = f" (95 % CI {low:.4f}–{high:.4f})" if low is not None and high is not None else ""
    shown = "n/a" if value is None else f"{value:.4f}"
    return MLMetricClass(name=name, value=shown, description=f"{shown}{ci}")


def model_mcps(models: Iterable[ModelFacts], when: int) -> list[MCP]:
    out: list[MCP] = []
    for m in sorted(models, key=lambda m: m.model_id):
        urn, group = model_urn(m.model_id, m.version), group_urn(m.model_id)
        app = urns.application(m.initiative)
        out.append(
            proposal(
                group,
                MLModelGroupPropertiesClass(
                    name=m.model_id,
                    description=m.title,
                    customProperties=props({"initiative": m.initiative, "output": m.output}),
                ),
                when,
            )
        )
        out.append(proposal(group, ApplicationsClass(applications=[app]), when))
        out.append(proposal(group, StatusClass(removed=False), when))
        counts = public_training(m.training)  # small-cell rule before anything is emitted
        training = [
            MLMetricClass(name=k, value=str(counts[k]), description=f"training {k}")
            for k in ("rows", "positives")
            if k in counts
        ]
        out.append(proposal(urn, MLModelPropertiesClass(
            name=f"{m.model_id} v{m.version}", description=m.title, type=m.output,
            version=VersionTagClass(versionTag=m.version), groups=[group],
            trainingMetrics=training,
            onlineMetrics=[_metric(k, v) for k, v in sorted(m.headline.items())],
            customProperties=props({
                "initiative": m.initiative,
                "validation_status": m.status or "never validated",
                "validation_trend": ",".join(m.trend) or None,
                "validated_at": m.validated_at,
                "validated_on_snapshot": m.snapshot_id,
                "trained_on_snapshot": m.training.get("snapshot"),
                "training_workspace": m.training.get("workspace"),
                "training_window": "..".join(m.training.get("window") or []) or None,
                "predictions": m.predictions,
                "ground_truth": m.ground_truth,
            })), when))  # fmt: skip
        out.append(proposal(urn, TrainingDataClass(trainingData=[
            BaseDataClass(dataset=urns.product_dataset(ref), motivation="training")
            for ref in m.training_products
        ]), when))  # fmt: skip
        out.append(proposal(urn, EvaluationDataClass(evaluationData=[
            BaseDataClass(dataset=urns.product_dataset(m.predictions), motivation="predictions"),
            BaseDataClass(dataset=urns.product_dataset(m.ground_truth),
                          motivation="ground truth"),
        ]), when))  # fmt: skip
        out.append(
            proposal(
                urn,
                IntendedUseClass(
                    primaryUses=[m.intended_use.strip()],
                    primaryUsers=[IntendedUserTypeClass.ENTERPRISE],
                    outOfScopeUses=[m.not_intended_for.strip()] if m.not_intended_for else [],
                ),
                when,
            )
        )
        out.append(proposal(urn, EthicalConsiderationsClass(
            data=[m.synthetic_signal.strip()]), when))  # fmt: skip
        out.append(proposal(urn, ApplicationsClass(applications=[app]), when))
        out.append(proposal(urn, SubTypesClass(typeNames=[SUBTYPE]), when))
        out.append(proposal(urn, StatusClass(removed=False), when))
        if m.owners:
            out.append(proposal(urn, ownership(m.owners, when), when))
        if m.report_url:
            out.append(proposal(urn, InstitutionalMemoryClass(elements=[
                InstitutionalMemoryMetadataClass(url=m.report_url,
                                                 description="Validation report",
                                                 createStamp=stamp(when))]), when))  # fmt: skip
        predictions = urns.product_dataset(m.predictions)
        if m.predicted_from:
            out.append(proposal(predictions, UpstreamLineageClass(upstreams=[
                UpstreamClass(dataset=urns.product_dataset(ref),
                              type=DatasetLineageTypeClass.TRANSFORMED)
                for ref in m.predicted_from
            ]), when))  # fmt: skip
        out.append(proposal(predictions, StatusClass(removed=False), when))
    return out


def _read(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def load_model_facts(
    cards_dir: Path | None = None, var_models: Path | None = None
) -> list[ModelFacts]:
    """Facts of every valid card, with training and the last report where they exist."""
    from regionlab.aimodels.card import collect_cards
    from regionlab.settings import get_settings

    settings = get_settings()
    cards, problems = collect_cards(cards_dir or settings.model_cards_dir)
    for problem in problems:
        log.warning("model card left out of the catalogue: %s", problem.render())
    root = var_models or settings.models_dir
    out = []
    for model_id, c in sorted(cards.items()):
        report = _read(root / model_id / "report.json")
        model = _read(root / model_id / "model.json")
        html = root / model_id / "report.html"
        history = root / model_id / "history.jsonl"
        trend = []
        if history.exists():
            lines = history.read_text(encoding="utf-8").splitlines()
            trend = [json.loads(x).get("status", "?") for x in lines[-5:] if x.strip()]
        training = model.get("training") or {}
        out.append(
            ModelFacts(
                model_id=c.id, title=c.title, version=c.version, initiative=c.initiative,
                output=c.output, intended_use=c.intended_use,
                not_intended_for=c.not_intended_for, synthetic_signal=c.synthetic_signal,
                owners=c.owners, training_products=c.training.products,
                predictions=c.predictions, ground_truth=c.ground_truth.product,
                predicted_from=[
                    p for p in c.training.products if p != c.ground_truth.product
                ],
                training=training, status=report.get("status"),
                validated_at=report.get("validated_at"), snapshot_id=report.get("snapshot_id"),
                headline=report.get("headline") or {},
                report_url=html.resolve().as_uri() if html.exists() else None,
                trend=trend,
            )
        )  # fmt: skip
    return out
