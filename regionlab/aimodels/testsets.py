"""Validation test sets: drawn reproducibly, stratified by subgroup, with annotator overlap.

A test set for a model's ground truth must not under-represent a subgroup the
report splits by, and its agreement must be known. ``draw`` takes row keys with
their stratum (e.g. ``K|70-79``), draws the same share from every stratum (at
least ``min_per_stratum`` where a stratum has that many) ordered by a seeded
hash — the labelling module's rule, so a draw is stable across runs and machines,
salted with ``test:`` so that a card and a labelling task with the same seed do
not draw the same documents first — and marks ``overlap`` of the drawn keys in every stratum for
double annotation, so inter-annotator agreement covers every subgroup.

``regionlab labeling push PRODUCT TASK --test-set MODEL`` draws the card's test set
from the lake (:func:`draw_from_lake`), imports it into the labelling task's
Label Studio project with the overlap keys given to several annotators, and
saves the draw (:func:`save`) beside the model's reports; ``regionlab validate``
reads it back to restrict the ground truth to the test set and to state the
draw (:func:`public_draw`, sizes under the small-cell rule) in the report.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

from regionlab import lake
from regionlab.aimodels import TEST_SET_FILE  # re-exported: callers import it from here
from regionlab.aimodels.card import ModelCard, TestSetSpec
from regionlab.aimodels.subgroups import protect
from regionlab.errors import UserError
from regionlab.research.suppression import DEFAULT_THRESHOLD, hidden_marker
from regionlab.sql import quote_ident, row_key_sql

#: stratum dimension -> SQL over the product (n), persons (p) and contacts (c)
STRATUM_SQL = {
    "sex": "p.sex",
    "age_band": "p.age_band",
    "municipality": "p.municipality_code",
    "department": "c.department_code",
}
UNKNOWN = "(ukendt)"


@dataclass(frozen=True)
class TestSet:
    keys: list[str]  # drawn row keys, in draw order
    overlap: set[str]  # keys every annotator labels
    per_stratum: dict[str, int]


def _order(seed: int, key: str) -> tuple[str, str]:
    return hashlib.md5(f"test:{seed}:{key}".encode()).hexdigest(), key


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


def labelled_source(card: ModelCard) -> tuple[str, str]:
    """(product ref, labelling task) behind a ``labels/<domain>__<product>__<task>`` truth."""
    name = card.ground_truth.product.removeprefix("labels/")
    parts = name.split("__")
    if card.ground_truth.kind != "labelled" or len(parts) != 3:
        raise UserError(
            f"models/{card.id}.yaml: ground_truth.product is not a labelled product "
            "labels/<domain>__<product>__<task>; a test set is drawn for labelled ground truth"
        )
    return f"{parts[0]}/{parts[1]}", parts[2]


def dimensions(card: ModelCard) -> list[str]:
    spec = card.test_set
    return list(spec.strata if spec and spec.strata else card.subgroups)


def strata_from_lake(
    con: duckdb.DuckDBPyConnection,
    product: tuple[str, str],
    key_columns: list[str],
    text_column: str,
    dims: list[str],
) -> dict[str, str]:
    """row key -> stratum (dimension values joined by ``|``) of every row with text.

    The same row key and text filter as the labelling sample, so every drawn key
    is a task Label Studio can show.
    """
    table = lake.table_name(*product)
    text = quote_ident(text_column)
    joins, carried = "", []
    if {"sex", "age_band", "municipality"} & set(dims):
        carried.append("person_key")
        joins += f" LEFT JOIN {lake.table_name('population', 'persons')} p USING (person_key)"
    if "department" in dims:
        carried.append("contact_id")
        joins += (
            f" LEFT JOIN {lake.table_name('patient_administration', 'contacts')} c "
            "ON c.contact_id = n.contact_id"
        )
    parts = [f"coalesce(CAST({STRATUM_SQL[d]} AS VARCHAR), '{UNKNOWN}')" for d in dims]
    stratum = f"concat_ws('|', {', '.join(parts)})" if parts else "'alle'"
    extra = "".join(f", {quote_ident(c)}" for c in carried)
    try:
        rows = con.execute(
            f"WITH n AS (SELECT {row_key_sql(key_columns)} AS row_key{extra} FROM {table} "
            f"WHERE {text} IS NOT NULL AND trim({text}) <> '') "
            f"SELECT n.row_key, {stratum} FROM n{joins}"
        ).fetchall()
    except duckdb.CatalogException:
        raise UserError(
            f"{'/'.join(product)} or the persons/contacts products needed for the strata "
            f"{', '.join(dims)} are not in the lake yet: run the pipelines first (`make demo`)"
        ) from None
    return {str(k): str(s) for k, s in rows}


def draw_from_lake(
    card: ModelCard, key_columns: list[str], text_column: str
) -> tuple[TestSet, int]:
    """The card's test set over the current snapshot, and that snapshot."""
    spec = card.test_set
    if spec is None:
        raise UserError(
            f"models/{card.id}.yaml has no test_set: add one (size, seed, overlap, annotators) "
            "to draw a validation test set"
        )
    product, _ = labelled_source(card)
    con = lake.connect(read_only=True)
    try:
        con.execute("BEGIN TRANSACTION")
        snapshot = lake.current_snapshot(con)
        strata = strata_from_lake(
            con, tuple(product.split("/")), key_columns, text_column, dimensions(card)
        )
    finally:
        con.close()
    drawn = draw(strata, spec.size, seed=spec.seed, overlap=spec.overlap,
                 min_per_stratum=spec.min_per_stratum)  # fmt: skip
    return drawn, snapshot


def save(path: Path, card: ModelCard, drawn: TestSet, snapshot: int) -> Path:
    """The draw as the validation reads it back: spec, snapshot, keys, overlap keys, sizes."""
    spec = card.test_set or TestSetSpec(size=len(drawn.keys))
    record = {
        "model": card.id,
        "ground_truth": card.ground_truth.product,
        "drawn_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "snapshot_id": snapshot,
        "spec": spec.model_dump(),
        "strata": dimensions(card),
        "keys": drawn.keys,
        "overlap_keys": sorted(drawn.overlap),
        "per_stratum": drawn.per_stratum,
        # the sizes as drawn: an erasure takes keys out of the lists, not out of these
        "drawn": len(drawn.keys),
        "overlap_drawn": len(drawn.overlap),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(record, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return path


def load(path: Path) -> dict[str, Any] | None:
    if not path.exists():
        return None
    return json.loads(path.read_text(encoding="utf-8"))


def public_sizes(per_stratum: Mapping[str, int], min_cell: int = DEFAULT_THRESHOLD) -> dict:
    """Stratum sizes with the small-cell rule, the complementary cell included.

    The report also gives the total, so a hidden stratum is hidden together with
    the next smallest until no hidden size follows from the total.
    """
    cells = {s: (n,) for s, n in per_stratum.items()}
    primary = {s for s, n in per_stratum.items() if 0 < n < min_cell}
    hidden = protect(cells, primary, set(), min_cell)
    return {s: hidden_marker(min_cell) if s in hidden else n for s, n in per_stratum.items()}


def _count(n: int, min_cell: int) -> int | str:
    return hidden_marker(min_cell) if 0 < n < min_cell else n


def public_draw(
    record: Mapping[str, Any], used: int, min_cell: int = DEFAULT_THRESHOLD
) -> dict[str, Any]:
    """What the report says about the draw: rule, seed, strata and sizes (small cells hidden)."""
    spec = record["spec"]
    return {
        "drawn_at": record["drawn_at"],
        "snapshot_id": record["snapshot_id"],
        "seed": spec["seed"],
        "size_requested": spec["size"],
        "min_per_stratum": spec["min_per_stratum"],
        "overlap_share": spec["overlap"],
        "annotators": spec["annotators"],
        "strata": record["strata"],
        # as drawn, like per_stratum: after an erasure the lists are shorter, and their
        # lengths against the stratum sizes would give the erased documents' count
        "drawn": _count(record.get("drawn", sum(record["per_stratum"].values())), min_cell),
        "overlap_documents": _count(
            record.get(
                "overlap_drawn",
                sum(math.ceil(n * spec["overlap"]) for n in record["per_stratum"].values()),
            ),
            min_cell,
        ),
        "labelled_and_used": _count(used, min_cell),
        "per_stratum": public_sizes(record["per_stratum"], min_cell),
        "min_cell": min_cell,
    }


__all__ = [
    "TEST_SET_FILE",
    "TestSet",
    "draw",
    "draw_from_lake",
    "labelled_source",
    "load",
    "public_draw",
    "public_sizes",
    "save",
    "strata_from_lake",
]
