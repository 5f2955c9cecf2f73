"""Model prediction products (``lake.models.<id>__predictions``) under erasure and retention.

A prediction row names no person: it carries the id of the row it scores (a
contact for the readmission model, a note for the entity model). The model card
says which product that row lives in (``predictions_about``), so a prediction
goes when its row goes — found through the source product in the same
transaction, before the source rows are rewritten away, as labelled rows are.
The verification looks for the source product's removed row keys in the
predictions, so a card that points at the wrong column fails the erasure.

A validation test set (``var/models/<id>/test_set.json``) lists the row keys it
drew; removed rows' keys are taken out of it too.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from regionlab.erasure.lake_delete import TableDeletion
from regionlab.settings import Settings
from regionlab.spec import Product, Registry
from regionlab.sql import quote_ident, row_key_sql

MODELS_SCHEMA = "models"


@dataclass(frozen=True)
class PredictionSource:
    ref: str  # models/<id>__predictions
    product: Product  # the product whose rows are scored
    key: str  # the predictions' column holding that product's row key


def sources(settings: Settings, registry: Registry) -> dict[str, PredictionSource]:
    """Predictions product ref -> its source, from every valid model card."""
    from regionlab.aimodels.card import collect_cards

    cards, _ = collect_cards(settings.model_cards_dir, registry)
    out = {}
    for card in cards.values():
        product = registry.products.get(card.predictions_about.product)
        if product is not None:
            out[card.predictions] = PredictionSource(
                card.predictions, product, card.predictions_about.key
            )
    return out


def unmapped(tables: dict[str, dict[str, str]], known: dict[str, PredictionSource]) -> list[str]:
    """Prediction tables in the lake no card maps to a source (they could not be erased)."""
    return sorted(r for r in tables if r.split("/")[0] == MODELS_SCHEMA and r not in known)


def prediction_deletions(
    tables: dict[str, dict[str, str]],
    known: dict[str, PredictionSource],
    source_predicate: Callable[[Product], str | None],
) -> list[TableDeletion]:
    """Deletions of predictions whose scored rows match ``source_predicate`` (put them first)."""
    out = []
    for ref, columns in tables.items():
        src = known.get(ref)
        if src is None or src.key not in columns or src.product.ref not in tables:
            continue
        predicate = source_predicate(src.product)
        if predicate is None:
            continue
        source = f"lake.{quote_ident(src.product.domain)}.{quote_ident(src.product.id)}"
        key = quote_ident(src.key)
        out.append(
            TableDeletion(
                schema=MODELS_SCHEMA,
                table=ref.split("/")[1],
                predicate=(
                    f"{key} IN (SELECT {row_key_sql(list(src.product.row_key))} FROM {source} "
                    f"WHERE ({predicate}))"
                ),
                row_key_sql=f"CAST({key} AS VARCHAR)",
            )
        )
    return out


def test_set_files(settings: Settings) -> list[Path]:
    from regionlab.aimodels import TEST_SET_FILE

    root = settings.models_dir
    return sorted(root.glob(f"*/{TEST_SET_FILE}")) if root.is_dir() else []


def scrub_test_sets(settings: Settings, gone: set[str]) -> dict[str, int]:
    """Drop removed row keys from every saved test set; returns keys removed per file."""
    removed: dict[str, int] = {}
    for path in test_set_files(settings):
        record = json.loads(path.read_text(encoding="utf-8"))
        keys = [k for k in record.get("keys", []) if k not in gone]
        n = len(record.get("keys", [])) - len(keys)
        if not n:
            continue
        record["keys"] = keys
        record["overlap_keys"] = [k for k in record.get("overlap_keys", []) if k not in gone]
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_text(json.dumps(record, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
        os.replace(tmp, path)
        removed[path.parent.name] = n
    return removed


def test_set_matches(settings: Settings, gone: set[str]) -> dict[str, int]:
    """Removed row keys still listed in a saved test set, per model."""
    found = {}
    for path in test_set_files(settings):
        record = json.loads(path.read_text(encoding="utf-8"))
        n = sum(1 for k in [*record.get("keys", []), *record.get("overlap_keys", [])] if k in gone)
        if n:
            found[f"test set {path.parent.name}"] = n
    return found
