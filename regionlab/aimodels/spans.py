"""Span-level precision, recall and F1 per entity label, with intervals.

A predicted span counts as a true positive only when label, start and end all
match a reference span of the same document (exact match, the strict CoNLL
convention). Precision and recall get Wilson 95 % intervals (they are
proportions of spans); F1 gets a percentile bootstrap over *documents*, because
spans of one note are not independent.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from regionlab.aimodels.metrics import Estimate, wilson

Span = tuple[str, int, int]  # (label, start, end)
ALL = "*"


@dataclass(frozen=True)
class LabelScore:
    label: str
    tp: int
    fp: int
    fn: int
    precision: Estimate
    recall: Estimate
    f1: Estimate


def _counts(gold: set[Span], pred: set[Span], label: str) -> tuple[int, int, int]:
    if label != ALL:
        gold = {s for s in gold if s[0] == label}
        pred = {s for s in pred if s[0] == label}
    tp = len(gold & pred)
    return tp, len(pred) - tp, len(gold) - tp


def _f1(tp: int, fp: int, fn: int) -> float | None:
    return None if 2 * tp + fp + fn == 0 else 2 * tp / (2 * tp + fp + fn)


def span_scores(
    gold: Mapping[str, set[Span]],
    pred: Mapping[str, set[Span]],
    labels: list[str],
    *,
    rounds: int = 1000,
    seed: int = 0,
) -> list[LabelScore]:
    """One score per label and the micro average over all spans (label ``*``).

    Documents are the keys of ``gold`` (the labelled ones); predictions for
    documents nobody labelled are ignored.
    """
    docs = sorted(gold)
    out = []
    rng = np.random.default_rng(seed)
    samples = [rng.integers(0, len(docs), len(docs)) for _ in range(rounds)] if docs else []
    for label in [*labels, ALL]:
        per_doc = np.array(
            [_counts(gold[d], pred.get(d, set()), label) for d in docs], dtype=np.int64
        ).reshape(-1, 3)
        tp, fp, fn = (int(v) for v in per_doc.sum(axis=0))
        f1 = _f1(tp, fp, fn)
        boot = [
            v for idx in samples if (v := _f1(*(int(x) for x in per_doc[idx].sum(axis=0))))
            is not None
        ]  # fmt: skip
        interval = np.percentile(boot, [2.5, 97.5]) if boot and f1 is not None else (None, None)
        out.append(
            LabelScore(
                label, tp, fp, fn,
                precision=wilson(tp, tp + fp),
                recall=wilson(tp, tp + fn),
                f1=Estimate(
                    f1,
                    None if interval[0] is None else float(interval[0]),
                    None if interval[1] is None else float(interval[1]),
                ),
            )
        )  # fmt: skip
    return out
