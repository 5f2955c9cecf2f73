"""AI models in DataHub: model, group, metrics and lineage, pinned by a golden file.

Update after an intended change with
``REGIONLAB_UPDATE_GOLDEN=1 uv run pytest tests/catalog/test_catalog_mlmodels.py``.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from catalog_testdata import UPDATE_GOLDEN_ENV
from datahub.testing.compare_metadata_json import diff_metadata_json, load_json_file

from catalog import urns
from catalog.mlmodels import ModelFacts, group_urn, load_model_facts, model_mcps, model_urn
from catalog.sinks import write_json

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = Path(__file__).parent / "golden" / "mlmodels.json"
WHEN = 1_780_000_000_000


def _facts() -> ModelFacts:
    return ModelFacts(
        model_id="readmission_risk", title="Risiko for genindlæggelse", version="1",
        initiative="INI-002", output="probability", intended_use="Prioritere hjemmebesøg.",
        not_intended_for="Afslag på behandling.", synthetic_signal="Syntetisk signal.",
        training_products=["patient_administration/contacts", "research/readmissions_30d"],
        predictions="models/readmission_risk__predictions",
        ground_truth="research/readmissions_30d",
        predicted_from=["patient_administration/contacts"],
        training={"rows": 9000, "positives": 900, "snapshot": 17, "workspace": "readmission-model",
                  "window": ["2022-01-01", "2025-01-01"]},
        status="warn", validated_at="2026-12-03T08:00:00+00:00", snapshot_id=19,
        headline={"auroc": {"value": 0.71, "low": 0.68, "high": 0.74},
                  "brier": {"value": 0.08, "low": None, "high": None}},
        report_url="file:///var/models/readmission_risk/report.html",
    )  # fmt: skip


def test_model_emission_matches_golden_file(tmp_path: Path) -> None:
    out = tmp_path / "mlmodels.json"
    write_json(model_mcps([_facts()], WHEN), out)
    if os.environ.get(UPDATE_GOLDEN_ENV) == "1":
        shutil.copyfile(out, GOLDEN)
    diff = diff_metadata_json(load_json_file(out), load_json_file(GOLDEN))
    assert not diff, diff.pretty()


def test_model_carries_metrics_lineage_and_initiative() -> None:
    by = {(m.entityUrn, m.aspectName): m.aspect for m in model_mcps([_facts()], WHEN)}
    urn = model_urn("readmission_risk", "1")
    props = by[(urn, "mlModelProperties")]
    assert props.groups == [group_urn("readmission_risk")]
    metrics = {m.name: m for m in props.onlineMetrics}
    assert metrics["auroc"].value == "0.7100"
    assert metrics["auroc"].description == "0.7100 (95 % CI 0.6800–0.7400)"
    assert props.customProperties["validation_status"] == "warn"
    assert {m.name: m.value for m in props.trainingMetrics} == {"rows": "9000", "positives": "900"}
    training = [d.dataset for d in by[(urn, "mlModelTrainingData")].trainingData]
    assert urns.product_dataset("research/readmissions_30d") in training
    evaluation = [d.dataset for d in by[(urn, "mlModelEvaluationData")].evaluationData]
    assert evaluation == [urns.product_dataset("models/readmission_risk__predictions"),
                          urns.product_dataset("research/readmissions_30d")]  # fmt: skip
    assert by[(urn, "applications")].applications == [urns.application("INI-002")]
    lineage = by[(urns.product_dataset("models/readmission_risk__predictions"), "upstreamLineage")]
    assert [u.dataset for u in lineage.upstreams] == [
        urns.product_dataset("patient_administration/contacts")
    ]


def test_facts_are_read_from_cards_and_the_last_report(tmp_path: Path) -> None:
    var = tmp_path / "models"
    (var / "readmission_risk").mkdir(parents=True)
    (var / "readmission_risk" / "report.json").write_text(
        json.dumps(
            {
                "status": "pass",
                "validated_at": "t",
                "snapshot_id": 3,
                "headline": {"auroc": {"value": 0.7, "low": 0.6, "high": 0.8}},
            }
        ),
        encoding="utf-8",
    )
    facts = {f.model_id: f for f in load_model_facts(ROOT / "models", var)}
    assert set(facts) == {"readmission_risk", "note_entities"}
    assert facts["readmission_risk"].status == "pass"
    assert facts["readmission_risk"].predicted_from == [
        "patient_administration/contacts", "population/persons"
    ]  # fmt: skip
    assert facts["note_entities"].status is None  # never validated: card facts only


def test_small_training_counts_are_suppressed_before_the_catalogue() -> None:
    """Three positives (or three negatives beside the rows) never reach DataHub raw."""
    for training, hidden in (({"rows": 9000, "positives": 3}, "positives"),
                             ({"rows": 9003, "positives": 9000}, "positives"),
                             ({"rows": 3, "positives": 0}, "rows")):  # fmt: skip
        facts = _facts().model_copy(update={"training": training})
        by = {(m.entityUrn, m.aspectName): m.aspect for m in model_mcps([facts], WHEN)}
        props = by[(model_urn("readmission_risk", "1"), "mlModelProperties")]
        shown = {m.name: m.value for m in props.trainingMetrics}
        assert shown[hidden] == "<5", (training, shown)
        assert "3" not in shown.values()
