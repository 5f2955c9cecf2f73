"""Labelled products (``lake.labels.<domain>__<product>__<task>``) and their training exports.

A labelled row names no person: it carries the source product's row key
(``row_key``, the task's key columns joined with ``|``). Its rows go when the
source rows they label go — found through the source product in the same
transaction, before the source rows are rewritten away.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

from regionlab.erasure.lake_delete import TableDeletion
from regionlab.platform.names import LABELS_SCHEMA, labelled_ref, parse_labelled_name
from regionlab.settings import get_settings
from regionlab.spec import Product, Registry
from regionlab.sql import quote_ident, row_key_sql


def exports_dir() -> Path:
    return get_settings().label_exports_dir


def source_of(name: str, registry: Registry) -> tuple[Product, list[str]] | None:
    """The source product of a labelled table and the key columns its ``row_key`` joins."""
    parts = parse_labelled_name(name)
    if parts is None:
        return None
    domain, product_id, task_id = parts
    product = registry.products.get(f"{domain}/{product_id}")
    if product is None:
        return None
    task = next((t for t in product.labeling if t.id == task_id), None)
    return product, (task.key_columns(product) if task else list(product.row_key))


def label_deletions(
    tables: dict[str, dict[str, str]],
    registry: Registry,
    source_predicate: Callable[[Product], str | None],
) -> list[TableDeletion]:
    """Deletions for every labelled table whose source rows match ``source_predicate``.

    ``source_predicate(product)`` is the predicate over the source product's
    rows (None: nothing of that product goes). Put these deletions *before*
    the source product's own in the transaction.
    """
    out = []
    for ref, columns in tables.items():
        schema, name = ref.split("/")
        if schema != LABELS_SCHEMA or "row_key" not in columns:
            continue
        found = source_of(name, registry)
        if found is None or found[0].ref not in tables:
            continue
        product, keys = found
        predicate = source_predicate(product)
        if predicate is None:
            continue
        source = f"lake.{quote_ident(product.domain)}.{quote_ident(product.id)}"
        out.append(
            TableDeletion(
                schema=LABELS_SCHEMA,
                table=name,
                predicate=(
                    f"row_key IN (SELECT {row_key_sql(keys)} FROM {source} WHERE ({predicate}))"
                ),
                row_key_sql="row_key",
            )
        )
    return out


def scrub_exports(gone_by_label: dict[str, set[str]]) -> dict[str, int]:
    """Drop training-export lines of removed labelled rows; returns lines removed per export.

    ``gone_by_label`` maps ``labels/<name>`` to the removed rows' keys. Exports are
    small (one line per labelled document), so they are filtered line by line and
    replaced atomically.
    """
    removed: dict[str, int] = {}
    folder = exports_dir()
    if not folder.is_dir():
        return removed
    for path in sorted(folder.glob("*.jsonl")):
        gone = gone_by_label.get(labelled_ref(path.stem), set())
        if not gone:
            continue
        kept, n = [], 0
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip() and str(json.loads(line).get("row_key")) in gone:
                n += 1
                continue
            kept.append(line)
        if n:
            tmp = path.with_name(f".{path.name}.tmp")
            tmp.write_text("".join(k + "\n" for k in kept), encoding="utf-8")
            os.replace(tmp, path)
            removed[path.name] = n
    return removed
