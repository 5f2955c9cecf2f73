"""Agreement between annotators, which Label Studio's community edition does not compute.

- Classifications: Cohen's kappa per pair of annotators over the documents
  both classified, averaged over pairs when there are more than two.
- Entities: span-level F1 per label per pair, *exact* (same start, end and
  label) and *overlap* (a span counts when it overlaps a span of the same
  label by the other annotator). F1 is symmetric, so neither annotator is the
  reference: exact F1 = 2·|A∩B| / (|A|+|B|); overlap F1 is the harmonic mean
  of the share of B's spans overlapping one of A's and the share of A's
  spans overlapping one of B's.

Only documents both annotators of a pair annotated count. Also builds the
consensus used for training exports: spans a strict majority marked exactly,
and the strict-majority class.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import combinations

#: (start, end, label)
SpanT = tuple[int, int, str]


@dataclass(frozen=True)
class Kappa:
    control: str
    annotators: tuple[str, str]
    items: int
    agreed: int
    observed: float
    expected: float
    kappa: float | None  # None when chance agreement is 1 (both used one class only)


@dataclass(frozen=True)
class SpanF1:
    label: str  # "*" for all labels together (micro average)
    annotators: tuple[str, str]
    documents: int
    spans_a: int
    spans_b: int
    exact_matches: int
    exact_f1: float | None
    overlap_f1: float | None


def cohen_kappa(pairs: Sequence[tuple[str, str]]) -> tuple[float, float, float | None]:
    """(observed, expected, kappa) for paired class decisions of two raters."""
    n = len(pairs)
    if n == 0:
        return 0.0, 0.0, None
    observed = sum(a == b for a, b in pairs) / n
    ca, cb = Counter(a for a, _ in pairs), Counter(b for _, b in pairs)
    expected = sum(ca[k] * cb[k] for k in ca) / (n * n)
    if expected == 1.0:
        return observed, expected, None
    return observed, expected, (observed - expected) / (1 - expected)


def _overlaps(span: SpanT, others: set[SpanT]) -> bool:
    return any(o[2] == span[2] and span[0] < o[1] and o[0] < span[1] for o in others)


def span_scores(
    a: Sequence[set[SpanT]], b: Sequence[set[SpanT]]
) -> tuple[int, int, int, float | None, float | None]:
    """(|A|, |B|, exact matches, exact F1, overlap F1) over paired documents."""
    na = sum(len(x) for x in a)
    nb = sum(len(y) for y in b)
    if na + nb == 0:
        return 0, 0, 0, None, None
    exact = sum(len(x & y) for x, y in zip(a, b, strict=True))
    exact_f1 = 2 * exact / (na + nb)
    hit_b = sum(_overlaps(s, x) for x, y in zip(a, b, strict=True) for s in y)
    hit_a = sum(_overlaps(s, y) for x, y in zip(a, b, strict=True) for s in x)
    precision = hit_b / nb if nb else 0.0
    recall = hit_a / na if na else 0.0
    overlap_f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return na, nb, exact, exact_f1, overlap_f1


def kappas(choices: Mapping[str, Mapping[str, Mapping[str, str]]]) -> list[Kappa]:
    """``choices[control][annotator][document] = class`` → one Kappa per control and pair."""
    out = []
    for control in sorted(choices):
        by_annotator = choices[control]
        for x, y in combinations(sorted(by_annotator), 2):
            docs = sorted(set(by_annotator[x]) & set(by_annotator[y]))
            pairs = [(by_annotator[x][d], by_annotator[y][d]) for d in docs]
            observed, expected, kappa = cohen_kappa(pairs)
            agreed = sum(p == q for p, q in pairs)
            out.append(Kappa(control, (x, y), len(pairs), agreed, observed, expected, kappa))
    return out


def span_f1s(spans: Mapping[str, Mapping[str, set[SpanT]]], labels: Sequence[str]) -> list[SpanF1]:
    """``spans[annotator][document] = {(start, end, label)}`` → per label and pair, plus "*".

    A document an annotator annotated without spans is an empty set, not absent.
    """
    out = []
    for x, y in combinations(sorted(spans), 2):
        docs = sorted(set(spans[x]) & set(spans[y]))
        for label in [*labels, "*"]:

            def pick(who: str, doc: str, label: str = label) -> set[SpanT]:
                return {s for s in spans[who][doc] if label == "*" or s[2] == label}

            a = [pick(x, d) for d in docs]
            b = [pick(y, d) for d in docs]
            na, nb, exact, exact_f1, overlap_f1 = span_scores(a, b)
            out.append(SpanF1(label, (x, y), len(docs), na, nb, exact, exact_f1, overlap_f1))
    return out


def consensus_spans(per_annotator: Sequence[set[SpanT]]) -> list[SpanT]:
    """Spans a strict majority of the document's annotators marked exactly (all of one's)."""
    n = len(per_annotator)
    counts = Counter(s for spans in per_annotator for s in spans)
    return sorted(s for s, c in counts.items() if c * 2 > n)


def consensus_choice(per_annotator: Sequence[str]) -> str | None:
    """The class a strict majority chose, or None on a tie or no majority."""
    if not per_annotator:
        return None
    label, count = Counter(per_annotator).most_common(1)[0]
    return label if count * 2 > len(per_annotator) else None
