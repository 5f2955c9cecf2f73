"""Binary-outcome metrics for probability models: discrimination, calibration, thresholds.

Everything a local validation reports for a risk score, on plain NumPy arrays
(``y`` 0/1, ``p`` predicted probabilities), so tests can check each number by
hand. Intervals: AUROC gets a percentile bootstrap (resampling rows, seeded, so a
report is reproducible); rates at a threshold get Wilson score intervals.
Calibration slope and intercept come from logistic recalibration (Cox 1958):
``logit P(y=1) = a + b * logit(p)`` fitted without penalty; a well calibrated
model has ``b = 1`` and ``a = 0``, ``b < 1`` means predictions too extreme.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
from scipy.stats import rankdata
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_curve

Z95 = 1.959963984540054
BOOTSTRAP_ROUNDS = 1000
_EPS = 1e-6


@dataclass(frozen=True)
class Estimate:
    """A point estimate with its 95 % interval (None when undefined, e.g. one class only)."""

    value: float | None
    low: float | None = None
    high: float | None = None

    def as_dict(self) -> dict[str, float | None]:
        return asdict(self)


def _arrays(y, p) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(y, dtype=np.int64)
    p = np.asarray(p, dtype=np.float64)
    if y.shape != p.shape:
        raise ValueError(f"outcomes and predictions differ in length ({y.size} vs {p.size})")
    return y, p


def both_classes(y: np.ndarray) -> bool:
    return bool(y.size) and 0 < int(y.sum()) < y.size


def auc_value(y, p) -> float:
    """AUROC as the Mann-Whitney statistic (ties count one half); fast enough to bootstrap."""
    y = np.asarray(y, dtype=np.int64)
    ranks = rankdata(np.asarray(p, dtype=np.float64))
    n1 = int(y.sum())
    n0 = y.size - n1
    return float((ranks[y == 1].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))


def auroc(y, p, *, rounds: int = BOOTSTRAP_ROUNDS, seed: int = 0) -> Estimate:
    """AUROC with a percentile bootstrap 95 % interval (resamples with one class skipped)."""
    y, p = _arrays(y, p)
    if not both_classes(y):
        return Estimate(None)
    point = auc_value(y, p)
    rng = np.random.default_rng(seed)
    values = []
    for _ in range(rounds):
        idx = rng.integers(0, y.size, y.size)
        if both_classes(y[idx]):
            values.append(auc_value(y[idx], p[idx]))
    if not values:
        return Estimate(point)
    low, high = np.percentile(values, [2.5, 97.5])
    return Estimate(point, float(low), float(high))


def brier(y, p) -> Estimate:
    y, p = _arrays(y, p)
    return Estimate(float(np.mean((p - y) ** 2))) if y.size else Estimate(None)


def roc_points(y, p) -> tuple[list[float], list[float]]:
    """False and true positive rates of the ROC curve (for the plot)."""
    y, p = _arrays(y, p)
    if not both_classes(y):
        return [], []
    fpr, tpr, _ = roc_curve(y, p)
    return fpr.tolist(), tpr.tolist()


@dataclass(frozen=True)
class CalibrationBin:
    mean_predicted: float
    observed: float
    n: int


def calibration_curve(y, p, bins: int = 10) -> list[CalibrationBin]:
    """Observed rate per bin of predicted risk (quantile bins, so each holds ~n/bins rows)."""
    y, p = _arrays(y, p)
    if not y.size:
        return []
    edges = np.unique(np.quantile(p, np.linspace(0, 1, bins + 1)))
    which = np.clip(np.searchsorted(edges, p, side="right") - 1, 0, max(len(edges) - 2, 0))
    out = []
    for b in np.unique(which):
        mask = which == b
        out.append(CalibrationBin(float(p[mask].mean()), float(y[mask].mean()), int(mask.sum())))
    return out


def _logit(p: np.ndarray) -> np.ndarray:
    q = np.clip(p, _EPS, 1 - _EPS)
    return np.log(q / (1 - q))


def calibration_slope_intercept(y, p) -> tuple[Estimate, Estimate]:
    """Logistic recalibration ``logit P(y) = a + b logit(p)``: (slope b, intercept a), with
    Wald 95 % intervals from the observed information."""
    y, p = _arrays(y, p)
    if not both_classes(y):
        return Estimate(None), Estimate(None)
    x = _logit(p).reshape(-1, 1)
    fit = LogisticRegression(C=np.inf, solver="lbfgs", max_iter=1000, tol=1e-10).fit(x, y)
    a, b = float(fit.intercept_[0]), float(fit.coef_[0, 0])
    design = np.column_stack([np.ones(y.size), x[:, 0]])
    mu = 1 / (1 + np.exp(-(a + b * x[:, 0])))
    info = design.T @ (design * (mu * (1 - mu))[:, None])
    try:
        cov = np.linalg.inv(info)
        se_a, se_b = math.sqrt(cov[0, 0]), math.sqrt(cov[1, 1])
    except (np.linalg.LinAlgError, ValueError):
        return Estimate(b), Estimate(a)
    return (
        Estimate(b, b - Z95 * se_b, b + Z95 * se_b),
        Estimate(a, a - Z95 * se_a, a + Z95 * se_a),
    )


def wilson(successes: int, n: int) -> Estimate:
    """A proportion with its Wilson score 95 % interval."""
    if n == 0:
        return Estimate(None)
    phat = successes / n
    denom = 1 + Z95**2 / n
    centre = (phat + Z95**2 / (2 * n)) / denom
    half = Z95 * math.sqrt(phat * (1 - phat) / n + Z95**2 / (4 * n * n)) / denom
    return Estimate(phat, max(0.0, centre - half), min(1.0, centre + half))


@dataclass(frozen=True)
class AtThreshold:
    threshold: float
    tp: int
    fp: int
    tn: int
    fn: int

    @property
    def sensitivity(self) -> Estimate:
        return wilson(self.tp, self.tp + self.fn)

    @property
    def specificity(self) -> Estimate:
        return wilson(self.tn, self.tn + self.fp)

    @property
    def ppv(self) -> Estimate:
        return wilson(self.tp, self.tp + self.fp)


def at_threshold(y, p, threshold: float) -> AtThreshold:
    """Confusion counts when ``p >= threshold`` is called positive."""
    y, p = _arrays(y, p)
    called = p >= threshold
    return AtThreshold(
        threshold,
        tp=int(np.sum(called & (y == 1))),
        fp=int(np.sum(called & (y == 0))),
        tn=int(np.sum(~called & (y == 0))),
        fn=int(np.sum(~called & (y == 1))),
    )
