"""A model's status against its card: pass, warn or block, with the reason per metric.

Bounds are judged on the point estimate (the interval is reported beside it): a
card's threshold is an acceptance rule, and a wide interval is itself a finding
the report shows. The overall status is the worst of the metric, disparity and
drift statuses; a metric that cannot be computed (one class only) warns.
"""

from __future__ import annotations

from dataclasses import dataclass

from regionlab.aimodels.card import Acceptance

ORDER = {"pass": 0, "warn": 1, "block": 2}


@dataclass(frozen=True)
class Judgement:
    name: str
    value: float | None
    status: str
    reason: str


def judge(acceptance: Acceptance, name: str, value: float | None) -> Judgement:
    a = acceptance
    if value is None:
        return Judgement(name, None, "warn", "not computable on this data")
    checks = (
        ("block", a.block_below, value < (a.block_below or 0), "below"),
        ("block", a.block_above, a.block_above is not None and value > a.block_above, "above"),
        ("warn", a.warn_below, a.warn_below is not None and value < a.warn_below, "below"),
        ("warn", a.warn_above, a.warn_above is not None and value > a.warn_above, "above"),
    )
    for status, bound, crossed, side in checks:
        if bound is not None and crossed:
            return Judgement(name, value, status, f"{value:.3f} {side} {status} bound {bound:g}")
    return Judgement(name, value, "pass", "within bounds")


def worst(statuses: list[str]) -> str:
    return max(statuses, key=ORDER.__getitem__, default="pass")
