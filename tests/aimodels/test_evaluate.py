"""A card judged on constructed data: subgroups suppressed, drift raising the status."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from regionlab.aimodels import drift
from regionlab.aimodels.card import collect_cards
from regionlab.aimodels.evaluate import evaluate_binary, evaluate_spans
from regionlab.aimodels.report import render_html

ROOT = Path(__file__).resolve().parents[2]
CARDS, _ = collect_cards(ROOT / "models")
FEATURES = CARDS["readmission_risk"].monitoring.drift.features


def _data(seed: int = 1, n: int = 2000):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    p = 1 / (1 + np.exp(-(-2.2 + 1.2 * x)))
    y = (rng.random(n) < p).astype(int)
    sex = np.where(rng.random(n) < 0.5, "K", "M").astype(object)
    dept = np.where(rng.random(n) < 0.5, "A", "B").astype(object)
    dept[:3] = "TINY"  # three rows: below the small-cell limit, hidden with its complement
    feats = {f: rng.normal(size=n) for f in FEATURES}
    return y, p, {"sex": sex, "department": dept}, feats


def test_well_specified_model_passes_and_hides_the_tiny_department() -> None:
    card = CARDS["readmission_risk"]
    y, p, groups, feats = _data()
    reference = {f: drift.reference_bins(v) for f, v in feats.items()}
    report = evaluate_binary(card, y, p, groups, reference=reference, current=feats, rounds=100)
    assert report["status"] == "pass", report["judgements"]
    auc = report["headline"]["auroc"]
    assert 0.7 < auc["value"] < 0.85 and auc["low"] < auc["value"] < auc["high"]
    slope = report["headline"]["calibration_slope"]["value"]
    assert 0.8 < slope < 1.2  # the outcomes were drawn from p itself
    rows = {(r["dimension"], r["level"]): r for r in report["subgroups"]["rows"]}
    assert rows[("department", "TINY")]["suppressed"] and rows[("department", "TINY")]["n"] is None
    assert report["subgroups"]["suppressed"] >= 1
    assert {j["status"] for j in report["drift"]} == {"pass"}
    html = render_html({**report, "model_id": "m", "title": "T", "version": "1",
                        "initiative": "INI-002", "validated_at": "now", "snapshot_id": 1,
                        "synthetic_signal": "s"})  # fmt: skip
    assert html.count("<svg") == 3 and "TINY" in html and "skjult" in html


def test_a_drifted_snapshot_raises_the_monitoring_status() -> None:
    card = CARDS["readmission_risk"]
    y, p, groups, feats = _data()
    reference = {f: drift.reference_bins(v) for f, v in feats.items()}
    moved = dict(feats, prior_contacts_365d=feats["prior_contacts_365d"] + 0.4)
    report = evaluate_binary(card, y, p, groups, reference=reference, current=moved, rounds=50)
    by = {j["name"]: j for j in report["drift"]}
    assert by["psi.prior_contacts_365d"]["status"] in {"warn", "block"}
    assert report["status"] in {"warn", "block"}
    far = dict(feats, age=feats["age"] + 2.0)
    report = evaluate_binary(card, y, p, groups, reference=reference, current=far, rounds=50)
    assert report["status"] == "block"


def test_a_miscalibrated_model_is_blocked() -> None:
    card = CARDS["readmission_risk"]
    y, p, groups, _ = _data()
    report = evaluate_binary(card, y, np.clip(p * 3, 0, 0.99), groups, rounds=50)
    by = {j["name"]: j for j in report["judgements"]}
    assert by["brier"]["status"] in {"warn", "block"}
    assert report["status"] == "block"


def test_span_model_is_judged_per_label() -> None:
    card = CARDS["note_entities"]
    gold = {f"d{i}": {("DIAGNOSE", 0, 5), ("MEDICIN", 10, 15)} for i in range(20)}
    pred = {f"d{i}": {("DIAGNOSE", 0, 5)} for i in range(20)}
    report = evaluate_spans(card, gold, pred, ["DIAGNOSE", "MEDICIN"], rounds=50)
    assert report["headline"]["f1.DIAGNOSE"]["value"] == 1.0
    assert report["headline"]["recall.MEDICIN"]["value"] == 0.0
    by = {j["name"]: j for j in report["judgements"]}
    assert by["f1.MEDICIN"]["status"] == "warn"
    assert by["f1.all"]["value"] == 2 * 20 / (2 * 20 + 20)
    assert report["status"] == "warn"
