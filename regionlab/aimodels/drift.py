"""Input drift per feature: the population stability index (PSI).

``PSI = sum_b (c_b - r_b) * ln(c_b / r_b)`` over bins ``b`` with reference shares
``r`` and current shares ``c``. Numeric features are binned at the reference's
deciles (unique edges, open ends), so a shift anywhere shows; categorical ones
by level. Empty bins get a share of ``EPS`` so the log stays finite. Common
reading: below 0.1 stable, 0.1–0.25 moderate shift, above 0.25 major shift — the
model card sets its own warn/block bounds.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

EPS = 1e-4


def _shares(counts: np.ndarray) -> np.ndarray:
    total = counts.sum()
    shares = counts / total if total else np.zeros_like(counts, dtype=float)
    return np.maximum(shares, EPS)


def psi(reference, current, bins: int = 10) -> float:
    """PSI of ``current`` against ``reference`` (numeric: decile bins; else: levels)."""
    ref = np.asarray(reference)
    cur = np.asarray(current)
    if ref.dtype.kind in "fiub" and cur.dtype.kind in "fiub":
        edges = np.unique(np.quantile(ref.astype(float), np.linspace(0, 1, bins + 1))[1:-1])
        r = np.bincount(np.searchsorted(edges, ref, side="right"), minlength=edges.size + 1)
        c = np.bincount(np.searchsorted(edges, cur, side="right"), minlength=edges.size + 1)
    else:
        levels = sorted({str(v) for v in ref} | {str(v) for v in cur})
        r = np.array([np.sum(ref.astype(str) == lv) for lv in levels])
        c = np.array([np.sum(cur.astype(str) == lv) for lv in levels])
    rs, cs = _shares(r.astype(float)), _shares(c.astype(float))
    return float(np.sum((cs - rs) * np.log(cs / rs)))


@dataclass(frozen=True)
class FeatureDrift:
    feature: str
    psi: float
    status: str  # pass | warn | block


def drift_status(value: float, warn: float, block: float) -> str:
    return "block" if value >= block else "warn" if value >= warn else "pass"


def feature_drift(
    reference: dict[str, np.ndarray],
    current: dict[str, np.ndarray],
    features: list[str],
    warn: float,
    block: float,
) -> list[FeatureDrift]:
    out = []
    for name in features:
        value = psi(reference[name], current[name])
        out.append(FeatureDrift(name, value, drift_status(value, warn, block)))
    return out


def reference_bins(values, bins: int = 10) -> dict[str, list[float]]:
    """A numeric feature's training distribution as decile edges and counts (no rows kept)."""
    v = np.asarray(values, dtype=float)
    edges = np.unique(np.quantile(v, np.linspace(0, 1, bins + 1))[1:-1]) if v.size else np.array([])
    counts = np.bincount(np.searchsorted(edges, v, side="right"), minlength=edges.size + 1)
    return {"edges": edges.tolist(), "counts": counts.astype(float).tolist()}


def psi_against(reference: dict[str, list[float]], current) -> float:
    """PSI of ``current`` against a stored :func:`reference_bins`."""
    edges = np.asarray(reference["edges"], dtype=float)
    cur = np.asarray(current, dtype=float)
    c = np.bincount(np.searchsorted(edges, cur, side="right"), minlength=edges.size + 1)
    rs = _shares(np.asarray(reference["counts"], dtype=float))
    cs = _shares(c.astype(float))
    return float(np.sum((cs - rs) * np.log(cs / rs)))
