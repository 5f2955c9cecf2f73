"""The metrics core against values computed by hand on constructed data."""

from __future__ import annotations

import math

import numpy as np
import pytest

from regionlab.aimodels import drift, metrics, spans, status, subgroups
from regionlab.aimodels.card import Acceptance

Y = [0, 0, 1, 1]
P = [0.1, 0.4, 0.35, 0.8]


def test_auroc_brier_and_threshold_counts_by_hand() -> None:
    # pairs (pos, neg): (0.35>0.1), (0.35<0.4), (0.8>0.1), (0.8>0.4) -> 3 of 4
    est = metrics.auroc(Y, P, rounds=200)
    assert est.value == pytest.approx(0.75)
    assert est.low is not None and est.low <= 0.75 <= est.high
    # (0.01 + 0.16 + 0.4225 + 0.04) / 4
    assert metrics.brier(Y, P).value == pytest.approx(0.158125)
    at = metrics.at_threshold(Y, P, 0.5)
    assert (at.tp, at.fp, at.tn, at.fn) == (1, 0, 2, 1)
    assert at.sensitivity.value == 0.5 and at.specificity.value == 1.0 and at.ppv.value == 1.0
    assert metrics.auroc([1, 1], [0.2, 0.3]).value is None


def test_wilson_interval_by_hand() -> None:
    # 8 of 10: centre (0.8 + z²/20)/(1 + z²/10), half z*sqrt(0.016 + z²/400)/(1 + z²/10)
    z = metrics.Z95
    denom = 1 + z * z / 10
    centre = (0.8 + z * z / 20) / denom
    half = z * math.sqrt(0.8 * 0.2 / 10 + z * z / 400) / denom
    est = metrics.wilson(8, 10)
    assert est.value == 0.8
    assert est.low == pytest.approx(centre - half) and est.high == pytest.approx(centre + half)
    assert est.low == pytest.approx(0.4902, abs=1e-4)


def _grouped(rates: dict[float, float], n: int = 100) -> tuple[np.ndarray, np.ndarray]:
    """n rows per predicted risk, with exactly rate * n positives."""
    y, p = [], []
    for risk, rate in rates.items():
        k = round(rate * n)
        y += [1] * k + [0] * (n - k)
        p += [risk] * n
    return np.array(y), np.array(p)


def test_calibration_slope_and_intercept_by_hand() -> None:
    # Observed = predicted in every group: the saturated fit is a = 0, b = 1.
    y, p = _grouped({0.2: 0.2, 0.5: 0.5, 0.8: 0.8})
    slope, intercept = metrics.calibration_slope_intercept(y, p)
    assert slope.value == pytest.approx(1.0, abs=1e-4)
    assert intercept.value == pytest.approx(0.0, abs=1e-4)
    assert slope.low < 1 < slope.high
    # Observed 0.1/0.5/0.9 at predicted 0.2/0.5/0.8: points collinear, b = ln 9 / ln 4.
    y, p = _grouped({0.2: 0.1, 0.5: 0.5, 0.8: 0.9})
    slope, intercept = metrics.calibration_slope_intercept(y, p)
    assert slope.value == pytest.approx(math.log(9) / math.log(4), abs=1e-4)
    assert intercept.value == pytest.approx(0.0, abs=1e-4)
    curve = metrics.calibration_curve(y, p, bins=3)
    got = [(round(b.mean_predicted, 9), round(b.observed, 9), b.n) for b in curve]
    assert got == [(0.2, 0.1, 100), (0.5, 0.5, 100), (0.8, 0.9, 100)]


def test_subgroups_suppress_a_small_cell_and_its_complement() -> None:
    # sex: K 40 rows (20 pos), M 40 rows (20 pos), X 3 rows (1 pos) -> X primary, and
    # with one hidden level of three, the smallest shown one too (secondary).
    # age: two big groups, both shown.
    y = np.array([1] * 20 + [0] * 20 + [1] * 20 + [0] * 20 + [1, 0, 0])
    p = np.concatenate([np.full(20, 0.9), np.full(20, 0.1), np.full(20, 0.6),
                        np.full(20, 0.4), [0.9, 0.1, 0.1]])  # fmt: skip
    sex = ["K"] * 40 + ["M"] * 39 + ["M"] + ["X"] * 3
    sex[79] = "K"  # K 41 rows, M 39: M is the smallest shown level
    age = ["0-49"] * 43 + ["50+"] * 40
    report = subgroups.subgroup_report(y, p, {"sex": sex, "age_band": age}, [0.5], min_cell=5)
    by = {(r.dimension, r.level): r for r in report.rows}
    assert by[("sex", "X")].suppressed and by[("sex", "X")].n is None
    assert by[("sex", "M")].suppressed  # secondary
    assert not by[("sex", "K")].suppressed and by[("sex", "K")].n == 41
    assert report.suppressed == 2
    # K: 20 positives at 0.9 (all called), 20 negatives at 0.1 and one negative at 0.4
    assert by[("sex", "K")].rates["sensitivity@0.5"] == 1.0
    assert by[("sex", "K")].rates["specificity@0.5"] == 1.0
    assert report.ratios["sex"]["sensitivity@0.5"] is None  # one shown level: no ratio
    # age 0-49: rows 0..42 -> 20 pos (0.9) + 20 neg (0.1) + 3 pos at 0.6: sens 1.0
    # age 50+: rows 43..82 -> 17 pos at 0.6, 20 neg at 0.4, 1 pos 0.9, 2 neg 0.1
    assert by[("age_band", "50+")].rates["sensitivity@0.5"] == 1.0
    assert report.ratios["age_band"]["sensitivity@0.5"] == pytest.approx(1.0)
    assert by[("age_band", "0-49")].positives == 23


def test_span_scores_by_hand() -> None:
    gold = {
        "d1": {("DIAGNOSE", 0, 5), ("MEDICIN", 10, 15)},
        "d2": {("DIAGNOSE", 0, 4), ("DOSIS", 20, 26)},
    }
    pred = {
        "d1": {("DIAGNOSE", 0, 5), ("MEDICIN", 10, 14)},  # one exact, one boundary miss
        "d2": {("DIAGNOSE", 0, 4), ("DOSIS", 20, 26), ("DIAGNOSE", 30, 33)},
        "d9": {("DIAGNOSE", 1, 2)},  # unlabelled document: ignored
    }
    scores = {s.label: s for s in spans.span_scores(gold, pred, ["DIAGNOSE", "MEDICIN", "DOSIS"])}
    d = scores["DIAGNOSE"]
    assert (d.tp, d.fp, d.fn) == (2, 1, 0)
    assert d.precision.value == pytest.approx(2 / 3) and d.recall.value == 1.0
    assert d.f1.value == pytest.approx(0.8)
    assert scores["MEDICIN"].f1.value == 0.0
    micro = scores["*"]
    assert (micro.tp, micro.fp, micro.fn) == (3, 2, 1)
    assert micro.f1.value == pytest.approx(6 / 9)
    assert micro.f1.low <= micro.f1.value <= micro.f1.high


def test_psi_by_hand_and_drift_status() -> None:
    ref = np.array(["a"] * 50 + ["b"] * 50)
    cur = np.array(["a"] * 80 + ["b"] * 20)
    expected = 0.3 * math.log(0.8 / 0.5) + (-0.3) * math.log(0.2 / 0.5)
    assert drift.psi(ref, cur) == pytest.approx(expected)  # 0.4159
    same = np.arange(1000)
    assert drift.psi(same, same) == pytest.approx(0.0)
    shifted = drift.feature_drift(
        {"age": same, "k": ref}, {"age": same + 300, "k": ref}, ["age", "k"], 0.1, 0.25
    )
    assert [(f.feature, f.status) for f in shifted] == [("age", "block"), ("k", "pass")]
    assert drift.drift_status(0.15, 0.1, 0.25) == "warn"


def test_judge_orders_block_before_warn() -> None:
    a = Acceptance(metric="auroc", warn_below=0.7, block_below=0.6)
    assert status.judge(a, "auroc", 0.75).status == "pass"
    assert status.judge(a, "auroc", 0.65).status == "warn"
    assert status.judge(a, "auroc", 0.55).status == "block"
    assert status.judge(a, "auroc", None).status == "warn"
    b = Acceptance(metric="brier", warn_above=0.2)
    assert status.judge(b, "brier", 0.3).reason == "0.300 above warn bound 0.2"
    assert status.worst(["pass", "block", "warn"]) == "block"
