"""Metrics per subgroup with Fairlearn's ``MetricFrame``, small cells suppressed.

A subgroup (one level of sex, age band, municipality or department) is shown only
when it has at least ``min_cell`` rows, ``min_cell`` positives and ``min_cell``
negatives — the platform's small-cell rule (:mod:`regionlab.research.suppression`),
since a sensitivity over three readmitted people describes those three people.
When exactly one level of a dimension is hidden, the next smallest is hidden too
(secondary suppression), so its counts cannot be recovered from the total.
Disparity ratios (smallest over largest value, Fairlearn's ``ratio()``) are computed
over the shown levels only.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
from fairlearn.metrics import (
    MetricFrame,
    count,
    selection_rate,
    true_negative_rate,
    true_positive_rate,
)
from sklearn.metrics import precision_score

from regionlab.aimodels.metrics import auc_value
from regionlab.research.suppression import DEFAULT_THRESHOLD

RATE_METRICS = ("sensitivity", "specificity", "ppv", "selection_rate")


def _ppv(y_true, y_pred) -> float:
    return float(precision_score(y_true, y_pred, zero_division=np.nan))


def _rate_metrics() -> dict:
    return {
        "sensitivity": true_positive_rate,
        "specificity": true_negative_rate,
        "ppv": _ppv,
        "selection_rate": selection_rate,
    }


@dataclass
class GroupRow:
    dimension: str
    level: str
    n: int | None  # None when suppressed
    positives: int | None
    suppressed: bool
    auroc: float | None = None
    rates: dict[str, float | None] = field(default_factory=dict)  # "<metric>@<t>" -> value


@dataclass
class SubgroupReport:
    rows: list[GroupRow]
    #: dimension -> "<metric>@<t>" -> ratio (None when fewer than two shown levels)
    ratios: dict[str, dict[str, float | None]]
    suppressed: int
    min_cell: int


def _hidden_levels(y: np.ndarray, groups: np.ndarray, min_cell: int) -> set[str]:
    sizes = {}
    hidden = set()
    for level in np.unique(groups):
        mask = groups == level
        n, pos = int(mask.sum()), int(y[mask].sum())
        sizes[level] = n
        if n < min_cell or pos < min_cell or n - pos < min_cell:
            hidden.add(level)
    if len(hidden) == 1 and len(sizes) > 2:
        shown = sorted((n, lvl) for lvl, n in sizes.items() if lvl not in hidden)
        hidden.add(shown[0][1])
    return {str(h) for h in hidden}


def subgroup_report(
    y,
    p,
    groups: Mapping[str, Sequence],
    thresholds: Sequence[float],
    *,
    min_cell: int = DEFAULT_THRESHOLD,
) -> SubgroupReport:
    """Per dimension and level: n, positives, AUROC and rates at each threshold."""
    y = np.asarray(y, dtype=np.int64)
    p = np.asarray(p, dtype=np.float64)
    rows: list[GroupRow] = []
    ratios: dict[str, dict[str, float | None]] = {}
    suppressed = 0
    for dimension, values in groups.items():
        g = np.asarray([("(ukendt)" if v is None else str(v)) for v in values], dtype=object)
        hidden = _hidden_levels(y, g, min_cell)
        suppressed += len(hidden)
        shown = np.array([v not in hidden for v in g], dtype=bool)
        for level in sorted(hidden):
            rows.append(GroupRow(dimension, level, None, None, True))
        ratios[dimension] = {}
        if not shown.any():
            continue
        frames = {}
        for t in thresholds:
            frames[t] = MetricFrame(
                metrics={**_rate_metrics(), "n": count},
                y_true=y[shown],
                y_pred=(p[shown] >= t).astype(int),
                sensitive_features=g[shown],
            )
            by = frames[t].by_group
            several = by.shape[0] >= 2
            for metric in RATE_METRICS:
                ratio = frames[t].ratio()[metric] if several else None
                ratios[dimension][f"{metric}@{t:g}"] = (
                    None if ratio is None or np.isnan(ratio) else float(ratio)
                )
        auc = MetricFrame(
            metrics=auc_value, y_true=y[shown], y_pred=p[shown], sensitive_features=g[shown]
        ).by_group
        for level in sorted(set(g[shown])):
            mask = g == level
            rates = {}
            for t, frame in frames.items():
                for metric in RATE_METRICS:
                    value = frame.by_group.loc[level, metric]
                    rates[f"{metric}@{t:g}"] = None if np.isnan(value) else float(value)
            rows.append(
                GroupRow(
                    dimension, level, int(mask.sum()), int(y[mask].sum()), False,
                    float(auc.loc[level]), rates,
                )
            )  # fmt: skip
    return SubgroupReport(rows, ratios, suppressed, min_cell)
