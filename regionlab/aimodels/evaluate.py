"""Judge a model against its card: from outcomes and predictions to a report dict.

Pure functions over arrays (no lake, no files), so the tests drive them with
constructed data and the CLI, the demo and the Dagster monitor share them. The
report holds aggregates only: counts below the small-cell limit are shown as
``"<5"``. Beside the overall ``n`` and ``positives`` a rate is a count
(sensitivity × positives = tp), so at a threshold where any confusion cell is
below the limit (or where the band of risk to the previous threshold shown holds
1–4 positives or negatives, a difference of two rows) all four cells and the
rates go (the small ones as ``"<5"``, the others as ``None``); the card still
judges the hidden value, the judgement just does not print it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from regionlab.aimodels import drift, metrics, spans, subgroups
from regionlab.aimodels.card import ModelCard
from regionlab.aimodels.status import Judgement, judge, worst
from regionlab.research.suppression import DEFAULT_THRESHOLD, hidden_marker

ROC_POINTS = 200


def _count(n: int, min_cell: int) -> int | str:
    return n if n == 0 or n >= min_cell else hidden_marker(min_cell)


def _hidden_judgement(j: Judgement) -> Judgement:
    shown = f"{j.value:.3f} " if j.value is not None else ""
    reason = j.reason.removeprefix(shown) if shown else j.reason
    return Judgement(j.name, None, j.status, f"{reason} (value hidden: small cells)")


def _roc(y: np.ndarray, p: np.ndarray, min_cell: int) -> dict[str, list[float]]:
    """ROC points whose implied confusion cells are all zero or at least ``min_cell``.

    A point is (fp/negatives, tp/positives); beside the overall counts it is four
    counts, so the steep first steps (the top few scores) are dropped.
    """
    pos, neg = int(y.sum()), int(y.size - y.sum())
    keep_x, keep_y = [], []
    for fx, ty in zip(*metrics.roc_points(y, p), strict=True):
        tp, fp = round(ty * pos), round(fx * neg)
        if not any(0 < c < min_cell for c in (tp, fp, pos - tp, neg - fp)):
            keep_x.append(fx)
            keep_y.append(ty)
    fpr, tpr = _thin(keep_x, keep_y)
    return {"fpr": fpr, "tpr": tpr}


def _calibration(y: np.ndarray, p: np.ndarray, min_cell: int) -> list[dict[str, Any]]:
    """Calibration bins; a bin's observed rate goes when its positives or negatives are small.

    Observed × n of every bin sums to the positives the report shows, so a hidden bin
    is hidden with the next smallest (:func:`subgroups.protect`) until the hidden bins'
    persons, positives and negatives are each zero or at least ``min_cell``; where a
    hidden bin's n is itself small, the other hidden bins' n go as well.
    """
    bins = metrics.calibration_curve(y, p)
    cells = {}
    for i, b in enumerate(bins):
        pos = round(b.observed * b.n)
        cells[str(i)] = (b.n, pos, b.n - pos)
    primary = {i for i, c in cells.items() if any(0 < x < min_cell for x in c)}
    hidden = subgroups.protect(cells, primary, set(), min_cell) if cells else set()
    small_n = any(0 < cells[i][0] < min_cell for i in hidden)
    out = []
    for i, b in enumerate(bins):
        if str(i) not in hidden:
            out.append({**b.__dict__, "n": b.n})
            continue
        n: int | str | None = _count(b.n, min_cell)
        if small_n and n == b.n:
            n = None
        out.append({**b.__dict__, "observed": None, "n": n})
    return out


def _thin(xs: list[float], ys: list[float]) -> tuple[list[float], list[float]]:
    if len(xs) <= ROC_POINTS:
        return xs, ys
    idx = np.unique(np.linspace(0, len(xs) - 1, ROC_POINTS).astype(int))
    return [xs[i] for i in idx], [ys[i] for i in idx]


def _hidden_thresholds(
    y: np.ndarray, p: np.ndarray, thresholds: Sequence[float], min_cell: int
) -> set[float]:
    """Thresholds whose confusion cells and rates are not shown.

    A threshold's own cells (tp, fp, tn, fn) 1–4 hide it; so does the band to the
    previous threshold shown: tp(a) − tp(b) positives and fp(a) − fp(b) negatives
    have a risk in [a, b), a count a reader gets by subtracting two rows.
    """
    hidden: set[float] = set()
    last: metrics.AtThreshold | None = None
    for t in sorted(set(thresholds)):
        at = metrics.at_threshold(y, p, t)
        own = any(0 < c < min_cell for c in (at.tp, at.fp, at.tn, at.fn))
        band = last is not None and any(
            0 < d < min_cell for d in (last.tp - at.tp, last.fp - at.fp)
        )
        if own or band:
            hidden.add(t)
        else:
            last = at
    return hidden


def _judgements_json(items: list[Judgement]) -> list[dict[str, Any]]:
    return [j.__dict__ for j in items]


def evaluate_binary(
    card: ModelCard,
    y: Sequence[int],
    p: Sequence[float],
    groups: Mapping[str, Sequence] | None = None,
    *,
    reference: Mapping[str, dict[str, list[float]]] | None = None,
    current: Mapping[str, Sequence[float]] | None = None,
    min_cell: int = DEFAULT_THRESHOLD,
    rounds: int = metrics.BOOTSTRAP_ROUNDS,
) -> dict[str, Any]:
    """Discrimination, calibration, thresholds, subgroups and drift, judged by the card."""
    y = np.asarray(y, dtype=int)
    p = np.asarray(p, dtype=float)
    auc = metrics.auroc(y, p, rounds=rounds)
    brier = metrics.brier(y, p)
    slope, intercept = metrics.calibration_slope_intercept(y, p)
    values: dict[str, metrics.Estimate] = {
        "auroc": auc,
        "brier": brier,
        "calibration_slope": slope,
        "calibration_intercept": intercept,
    }
    thresholds = []
    masked: set[str] = set()
    hidden_at = _hidden_thresholds(y, p, card.thresholds, min_cell)
    for t in card.thresholds:
        at = metrics.at_threshold(y, p, t)
        cells = {k: getattr(at, k) for k in ("tp", "fp", "tn", "fn")}
        small = t in hidden_at
        for name in ("sensitivity", "specificity", "ppv"):
            values[f"{name}@{t:g}"] = getattr(at, name)
            if small:
                masked.add(f"{name}@{t:g}")
        thresholds.append(
            {
                "threshold": t,
                **{
                    k: (hidden_marker(min_cell) if 0 < c < min_cell else None) if small else c
                    for k, c in cells.items()
                },
                **{
                    k: metrics.Estimate(None).as_dict() if small else getattr(at, k).as_dict()
                    for k in ("sensitivity", "specificity", "ppv")
                },
            }
        )
    judged = []
    for a in card.metrics:
        name = f"{a.metric}@{a.at:g}" if a.at is not None else a.metric
        j = judge(a, name, values[name].value)
        judged.append(_hidden_judgement(j) if name in masked else j)
    shown_values = {k: metrics.Estimate(None) if k in masked else v for k, v in values.items()}

    groups = groups or {}
    sub = subgroups.subgroup_report(y, p, groups, card.thresholds, min_cell=min_cell)
    disparity = []
    for d in card.disparity:
        key = f"{d.metric}@{d.at:g}"
        for dimension, ratios in sub.ratios.items():
            if d.subgroups and dimension not in d.subgroups:
                continue
            ratio = ratios.get(key)
            if ratio is None:
                continue
            status = "warn" if ratio < d.warn_below else "pass"
            reason = f"ratio {ratio:.3f} {'below' if status == 'warn' else 'at or above'} "
            disparity.append(
                Judgement(
                    f"disparity.{key}.{dimension}", ratio, status, reason + f"{d.warn_below:g}"
                )  # fmt: skip
            )
    drifted = []
    if card.monitoring.drift is not None and reference is not None and current is not None:
        cfg = card.monitoring.drift
        for feature in cfg.features:
            value = drift.psi_against(reference[feature], current[feature])
            status = drift.drift_status(value, cfg.psi_warn, cfg.psi_block)
            drifted.append(Judgement(f"psi.{feature}", value, status,
                                     f"PSI {value:.3f} (warn {cfg.psi_warn:g}, "
                                     f"block {cfg.psi_block:g})"))  # fmt: skip
    return {
        "output": "probability",
        "n": _count(int(y.size), min_cell),
        "positives": _count(int(y.sum()), min_cell),
        "status": worst([j.status for j in (*judged, *disparity, *drifted)]),
        "headline": {k: v.as_dict() for k, v in shown_values.items()},
        "judgements": _judgements_json(judged),
        "disparity": _judgements_json(disparity),
        "drift": _judgements_json(drifted),
        "thresholds": thresholds,
        "roc": _roc(y, p, min_cell),
        "calibration": _calibration(y, p, min_cell),
        "subgroups": {
            "min_cell": sub.min_cell,
            "suppressed": sub.suppressed,
            "rows": [r.__dict__ for r in sub.rows],
            "ratios": sub.ratios,
        },
    }


def _hidden_span_labels(scores: list[spans.LabelScore], min_cell: int) -> set[str]:
    """Labels whose tp/fp/fn and rates are not shown (small cells and their complement).

    Precision and recall with their Wilson intervals give the counts back, so a
    label goes whole. The micro-average row ``*`` is the sum of the labels: a
    hidden label is hidden with the next smallest until the hidden sums are zero or
    at least ``min_cell``; when ``*`` itself has a small cell, every label goes.
    """
    cells = {s.label: (s.tp, s.fp, s.fn) for s in scores if s.label != spans.ALL}
    total = next((s for s in scores if s.label == spans.ALL), None)
    if total is not None and any(0 < c < min_cell for c in (total.tp, total.fp, total.fn)):
        return {s.label for s in scores}
    primary = {lbl for lbl, c in cells.items() if any(0 < x < min_cell for x in c)}
    return subgroups.protect(cells, primary, set(), min_cell) if cells else set()


def evaluate_spans(
    card: ModelCard,
    gold: Mapping[str, set[spans.Span]],
    pred: Mapping[str, set[spans.Span]],
    labels: list[str],
    *,
    agreement: dict[str, Any] | None = None,
    min_cell: int = DEFAULT_THRESHOLD,
    rounds: int = metrics.BOOTSTRAP_ROUNDS,
) -> dict[str, Any]:
    """Per-label span precision/recall/F1 with intervals, judged by the card.

    Span counts follow the small-cell rule like person counts: a label with a
    count of 1–4 in tp, fp or fn is shown without counts or rates (see
    :func:`_hidden_span_labels`); the card still judges its hidden value.
    """
    scores = spans.span_scores(gold, pred, labels, rounds=rounds)
    by = {s.label: s for s in scores}
    hidden = _hidden_span_labels(scores, min_cell)
    judged = []
    for a in card.metrics:
        label = a.label or spans.ALL
        score = by.get(label)
        value = None if score is None else getattr(score, a.metric).value
        j = judge(a, f"{a.metric}.{'all' if label == spans.ALL else label}", value)
        judged.append(_hidden_judgement(j) if label in hidden else j)
    none = metrics.Estimate(None).as_dict()

    def shown(s: spans.LabelScore, m: str) -> dict[str, float | None]:
        return none if s.label in hidden else getattr(s, m).as_dict()

    def cell(s: spans.LabelScore, c: int) -> int | str | None:
        if s.label not in hidden:
            return c
        return hidden_marker(min_cell) if 0 < c < min_cell else None

    return {
        "output": "spans",
        "documents": _count(len(gold), min_cell),
        "min_cell": min_cell,
        "status": worst([j.status for j in judged]),
        "headline": {
            f"{m}.{'all' if s.label == spans.ALL else s.label}": shown(s, m)
            for s in scores
            for m in ("precision", "recall", "f1")
        },
        "labels": [
            {
                "label": s.label,
                "suppressed": s.label in hidden,
                "tp": cell(s, s.tp),
                "fp": cell(s, s.fp),
                "fn": cell(s, s.fn),
                "precision": shown(s, "precision"),
                "recall": shown(s, "recall"),
                "f1": shown(s, "f1"),
            }
            for s in scores
        ],  # fmt: skip
        "judgements": _judgements_json(judged),
        "agreement": agreement or {},
    }
