"""Per-table aggregates of the catalogue, remembered by the table's data state.

The catalogue's column profiles and population stats read every row of a product
(distinct counts per column, age quantiles, codes held by enough persons): about 75 s
for all products at region scale, paid again by every emission after any publish. A
product's aggregates only change when its table's data does, and DuckLake shows every
data change in the table's current files or its row count (an insert or a rewrite
writes data files, a delete writes a delete file, inlined rows change the count). So
each aggregate is remembered under a digest of the files and count of every table it
reads plus the spec it was computed for; after one product's publish, an emission
reads that product (and what depends on it) again, not the lake.

Streaming products are never remembered: an inlined FHIR version update can replace a
row without changing the files or the count. Only counts and code lists are stored
(``var/catalog/table-aggregates.json``, beside the other catalogue state), never a value
from a row.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import duckdb
from pydantic import BaseModel

from catalog.emission_cache import tree_digest
from regionlab import codelists, lake
from regionlab.lake.config import LAKE_ALIAS
from regionlab.spec import Product, Registry
from regionlab.sql import quote_literal

VERSION = 1
M = TypeVar("M", bound=BaseModel)


def _file() -> Path:
    from regionlab.settings import get_settings

    return get_settings().catalog_dir / "table-aggregates.json"


class TableAggregates:
    """Aggregates of one emission's snapshot, reused from the last emission where valid."""

    def __init__(
        self, con: duckdb.DuckDBPyConnection, registry: Registry, path: Path | None
    ) -> None:
        self._con = con
        self._registry = registry
        self._path = path
        self._counts = lake.table_row_counts(con)
        self._states: dict[str, str | None] = {}
        self._old = self._load() if path is not None else {}
        self._new: dict[str, Any] = {}
        # Code lists decide which codes count (``code_values``): a new list re-reads.
        self._codes = tree_digest(Path(codelists.__file__).parent)

    @classmethod
    def for_emission(cls, con: duckdb.DuckDBPyConnection, registry: Registry) -> TableAggregates:
        return cls(con, registry, _file())

    def _load(self) -> dict[str, Any]:
        assert self._path is not None
        try:
            payload = json.loads(self._path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        ok = isinstance(payload, dict) and payload.get("version") == VERSION
        return payload.get("entries", {}) if ok else {}

    def state(self, ref: str) -> str | None:
        """Digest of the table's current files and row count; None: do not remember."""
        if ref not in self._states:
            self._states[ref] = self._state(ref)
        return self._states[ref]

    def _state(self, ref: str) -> str | None:
        product = self._registry.products.get(ref)
        domain, _, name = ref.partition("/")
        count = self._counts.get(f"{domain}.{name}")
        if product is None or product.is_stream or count is None:
            return None
        files = self._con.execute(
            f"SELECT data_file, delete_file FROM ducklake_list_files("
            f"{quote_literal(LAKE_ALIAS)}, {quote_literal(name)}, "
            f"schema => {quote_literal(domain)}) ORDER BY ALL"
        ).fetchall()
        return hashlib.sha256(repr((count, files)).encode()).hexdigest()

    def key(self, product: Product, reads: list[str]) -> str | None:
        """The key of an aggregate of ``product`` that also reads the tables ``reads``.

        Besides the tables' states: the specs of all of them (the persons spec says how an
        age is computed), the code lists, and the year (an age from a birth year is
        ``year(current_date) - birth_year``).
        """
        refs = [product.ref, *reads]
        states = [self.state(ref) for ref in refs]
        if any(s is None for s in states):
            return None
        specs = [self._registry.products[r].model_dump_json() for r in refs]
        year = dt.date.today().year
        parts = [states, specs, self._codes, year]
        return hashlib.sha256(json.dumps(parts).encode()).hexdigest()

    def remember(
        self, kind: str, product: Product, reads: list[str], compute: Callable[[], Any]
    ) -> Any:
        """``compute()``'s JSON-able result, or the one stored under the same key."""
        key = self.key(product, reads)
        name = f"{kind}:{product.ref}"
        old = self._old.get(name)
        if key is not None and isinstance(old, dict) and old.get("key") == key:
            self._new[name] = old
            return old["value"]
        value = compute()
        if key is not None:
            self._new[name] = {"key": key, "value": value}
        return value

    def save(self) -> None:
        """Keep what this emission used (entries of dropped products fall away)."""
        if self._path is None:
            return
        self._path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self._path.with_name(f".{self._path.name}.{os.getpid()}.tmp")
        payload = {"version": VERSION, "entries": self._new}
        tmp.write_text(json.dumps(payload, sort_keys=True), encoding="utf-8")
        os.replace(tmp, self._path)


def dump_models(models: list[M]) -> list[dict[str, Any]]:
    return [m.model_dump(mode="json") for m in models]


def load_models(model: type[M], rows: list[dict[str, Any]]) -> list[M]:
    return [model.model_validate(r) for r in rows]
