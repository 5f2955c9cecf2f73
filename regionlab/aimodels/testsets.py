"""Validation test sets: drawn reproducibly, stratified by subgroup, with annotator overlap.

A test set for a model's ground truth must not under-represent a subgroup the
report splits by, and its agreement must be known. ``draw`` takes row keys with
their stratum (e.g. ``sex|age_band``), draws the same share from every stratum
(at least ``min_per_stratum`` where a stratum has that many) ordered by a seeded
hash — the same rule as the labelling module's sample, so a draw is stable across
runs and machines — and marks ``overlap`` of the drawn keys in every stratum for
double annotation, so inter-annotator agreement covers every subgroup.
Not yet wired into ``regionlab label push`` (see the models section of the docs).
"""

from __future__ import annotations

import hashlib
import math
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class TestSet:
    keys: list[str]  # drawn row keys, in draw order
    overlap: set[str]  # keys every annotator labels
    per_stratum: dict[str, int]


def _order(seed: int, key: str) -> tuple[str, str]:
    return hashlib.md5(f"{seed}:{key}".encode()).hexdigest(), key


def draw(
    strata: Mapping[str, str],
    size: int,
    *,
    seed: int = 2024,
    overlap: float = 0.2,
    min_per_stratum: int = 5,
) -> TestSet:
    """``size`` keys from ``strata`` (row key -> stratum), proportional with a floor."""
    groups: dict[str, list[str]] = defaultdict(list)
    for key, stratum in strata.items():
        groups[stratum].append(key)
    total = len(strata)
    keys: list[str] = []
    shared: set[str] = set()
    counts: dict[str, int] = {}
    for stratum in sorted(groups):
        members = sorted(groups[stratum], key=lambda k: _order(seed, k))
        share = math.ceil(size * len(members) / total) if total else 0
        take = min(len(members), max(share, min_per_stratum))
        chosen = members[:take]
        keys += chosen
        shared |= set(chosen[: math.ceil(take * overlap)])
        counts[stratum] = take
    return TestSet(keys, shared, counts)
