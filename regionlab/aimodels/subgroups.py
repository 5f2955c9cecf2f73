"""Metrics per subgroup with Fairlearn's ``MetricFrame``, small cells suppressed.

A subgroup (one level of sex, age band, municipality or department) is shown only
when it has at least ``min_cell`` rows, ``min_cell`` positives and ``min_cell``
negatives — the platform's small-cell rule (:mod:`regionlab.research.suppression`),
since a sensitivity over three readmitted people describes those three people.
The report shows the overall ``n`` and ``positives``, so once any level is hidden
the next smallest levels are hidden with it (secondary suppression) until at least
two are hidden and their summed persons, positives and negatives are each zero or
at least ``min_cell`` — otherwise total minus the shown levels would give the hidden
one back (for a two-level dimension such as sex both levels go). A shown level's
rates at a threshold go the same way when one of its confusion cells (tp, fp, tn,
fn) is below the limit, since a rate beside ``positives`` is a count, and a
dimension's rates at a threshold go whole when, against the previous threshold
shown, the risk band between them holds 1–4 positives or negatives of a level (or
of the hidden levels together), or a level's band to the threshold it was last
shown at: two rates give a difference of counts. Disparity
ratios (smallest over largest value, as Fairlearn's ``ratio()``) are computed over
the levels whose rate is shown only.
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

from regionlab.aimodels.metrics import auc_value, wilson
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
    #: "sensitivity@<t>" -> [low, high] Wilson 95 % interval (only where the rate is shown)
    intervals: dict[str, list[float | None]] = field(default_factory=dict)


@dataclass
class SubgroupReport:
    rows: list[GroupRow]
    #: dimension -> "<metric>@<t>" -> ratio (None when fewer than two shown levels)
    ratios: dict[str, dict[str, float | None]]
    suppressed: int
    min_cell: int


def _small(count: int, min_cell: int) -> bool:
    return 0 < count < min_cell


def protect(
    cells: Mapping[str, tuple[int, ...]], primary: set[str], unknown: set[str], min_cell: int
) -> set[str]:
    """``primary`` plus the smallest other levels needed so no hidden cell follows from the total.

    ``unknown`` levels are already hidden (they count towards the hidden sum). The
    hidden set is closed once it holds two or more levels and each summed cell is
    zero or at least ``min_cell`` (two one-person levels hidden together still give
    each other away), or when no level is left to add.
    """
    hidden = set(primary) | set(unknown)
    if not primary:
        return hidden
    width = len(next(iter(cells.values())))

    def exposed() -> bool:
        sums = [sum(cells[lvl][i] for lvl in hidden) for i in range(width)]
        return len(hidden) < 2 or any(_small(s, min_cell) for s in sums)

    while exposed():
        rest = sorted((sum(c), lvl) for lvl, c in cells.items() if lvl not in hidden)
        if not rest:
            break
        hidden.add(rest[0][1])
    return hidden


def _hidden_levels(y: np.ndarray, groups: np.ndarray, min_cell: int) -> set[str]:
    cells: dict[str, tuple[int, ...]] = {}
    primary = set()
    for level in np.unique(groups):
        mask = groups == level
        n, pos = int(mask.sum()), int(y[mask].sum())
        cells[str(level)] = (n, pos, n - pos)
        if n < min_cell or pos < min_cell or n - pos < min_cell:
            primary.add(str(level))
    return protect(cells, primary, set(), min_cell)


def _hidden_rates(
    y: np.ndarray, called: np.ndarray, groups: np.ndarray, hidden: set[str], min_cell: int
) -> set[str]:
    """Levels whose rates at one threshold are not shown (the hidden levels included)."""
    cells: dict[str, tuple[int, ...]] = {}
    primary = set()
    for level in np.unique(groups):
        mask = groups == level
        yl, cl = y[mask], called[mask]
        conf = (
            int(np.sum(cl & (yl == 1))), int(np.sum(cl & (yl == 0))),
            int(np.sum(~cl & (yl == 0))), int(np.sum(~cl & (yl == 1))),
        )  # fmt: skip
        cells[str(level)] = conf
        if str(level) not in hidden and any(_small(c, min_cell) for c in conf):
            primary.add(str(level))
    return protect(cells, primary, hidden, min_cell)


def _band_safe(
    y: np.ndarray,
    p: np.ndarray,
    groups: np.ndarray,
    low: float,
    high: float,
    together: set[str],
    alone: set[str],
    min_cell: int,
) -> bool:
    """No positive or negative count of the risk band [low, high) below the limit.

    Rates at two thresholds beside a level's positives and persons give its tp and fp
    at both, and their difference is the number of positives and negatives with a
    risk in the band. ``alone`` levels are shown at both thresholds; ``together``
    (all others) can be had only as their sum, from the overall row.
    """
    band = (p >= low) & (p < high)

    def small(mask: np.ndarray) -> bool:
        pos = int(np.sum(band & mask & (y == 1)))
        neg = int(np.sum(band & mask & (y == 0)))
        return _small(pos, min_cell) or _small(neg, min_cell)

    if any(small(groups == level) for level in alone):
        return False
    return not (together and small(np.isin(groups, list(together))))


def _ratio(values: list[float | None]) -> float | None:
    shown = [v for v in values if v is not None]
    if len(shown) < 2 or max(shown) == 0:
        return None
    return float(min(shown) / max(shown))


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
        rate_hidden: dict[float, set[str]] = {}
        levels = {str(v) for v in np.unique(g)}
        previous: tuple[float, set[str]] | None = None
        last_shown: dict[str, float] = {}  # level -> last threshold its rates were shown at
        for t in sorted(thresholds):
            rate_hidden[t] = _hidden_rates(y, p >= t, g, hidden, min_cell)
            alone = (levels - rate_hidden[t]) & (previous[1] if previous else set())
            # a level hidden at the previous threshold but shown before it gives its
            # band back across it: check it against the threshold it was last shown at
            across = all(
                _band_safe(y, p, g, last_shown[lvl], t, set(), {lvl}, min_cell)
                for lvl in levels - rate_hidden[t]
                if lvl in last_shown
            )
            if previous is not None and not (
                across and _band_safe(y, p, g, previous[0], t, levels - alone, alone, min_cell)
            ):
                rate_hidden[t] = set(levels)  # the dimension's rates at t go whole
            else:
                previous = (t, levels - rate_hidden[t])
                last_shown.update(dict.fromkeys(levels - rate_hidden[t], t))
            frames[t] = MetricFrame(
                metrics={**_rate_metrics(), "n": count},
                y_true=y[shown],
                y_pred=(p[shown] >= t).astype(int),
                sensitive_features=g[shown],
            )
        auc = MetricFrame(
            metrics=auc_value, y_true=y[shown], y_pred=p[shown], sensitive_features=g[shown]
        ).by_group
        by_level: dict[str, GroupRow] = {}
        for level in sorted(set(g[shown])):
            mask = g == level
            rates: dict[str, float | None] = {}
            intervals: dict[str, list[float | None]] = {}
            for t, frame in frames.items():
                for metric in RATE_METRICS:
                    value = frame.by_group.loc[level, metric]
                    masked = level in rate_hidden[t] or np.isnan(value)
                    rates[f"{metric}@{t:g}"] = None if masked else float(value)
                if rates[f"sensitivity@{t:g}"] is not None:
                    called = p[mask] >= t
                    ci = wilson(int(np.sum(called & (y[mask] == 1))), int(y[mask].sum()))
                    intervals[f"sensitivity@{t:g}"] = [ci.low, ci.high]
            by_level[level] = GroupRow(
                dimension, level, int(mask.sum()), int(y[mask].sum()), False,
                float(auc.loc[level]), rates, intervals,
            )  # fmt: skip
            rows.append(by_level[level])
        for t in thresholds:
            for metric in RATE_METRICS:
                key = f"{metric}@{t:g}"
                ratios[dimension][key] = _ratio([r.rates[key] for r in by_level.values()])
    return SubgroupReport(rows, ratios, suppressed, min_cell)
