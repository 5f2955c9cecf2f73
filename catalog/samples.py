"""A synthetic sample of each product: its published columns, made-up rows.

HealthDCAT-AP recommends a sample distribution (``adms:sample``) so a researcher
sees the shape of the data before applying. A real product's rows may not leave
the lake, so the sample is made from the spec alone — never from the lake:

- codes from the column's code list (SKS, NPU, ATC, municipalities);
- values an ``in_set`` rule allows, numbers inside a ``between`` rule's bounds;
- a person key of the published form (64 hex digits) drawn at random, age bands,
  months and dates in the spec's shape;
- free text as a placeholder that says it is synthetic.

Rows are drawn with a seed from the product id, so a sample changes only when
the spec does. The file is written beside the catalogue site
(``<var>/catalog/samples/<domain>/<product>.csv``) and published under
``samples/`` like the ODCS contracts under ``odcs/``.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import random
from pathlib import Path
from typing import Any

from regionlab import codelists
from regionlab.settings import get_settings
from regionlab.spec import Product
from regionlab.spec.models import PublishedColumn
from regionlab.spec.rules import Between, InSet
from regionlab.spec.vocab import ColumnType, Pseudonymisation

#: Rows in a sample: enough to show the shape, too few to pass for data.
ROWS = 5
#: Dates fall in the year before this day (fixed, so samples do not change daily).
_ANCHOR = dt.date(2024, 12, 31)


def samples_dir() -> Path:
    return get_settings().catalog_dir / "samples"


def sample_path(product: Product, root: Path | None = None) -> Path:
    return (root or samples_dir()) / product.domain / f"{product.id}.csv"


def _rules(product: Product, column: str) -> list[Any]:
    return [r for r in product.quality if getattr(r, "column", None) == column]


def _value(product: Product, col: PublishedColumn, rng: random.Random, row: int) -> Any:
    rules = _rules(product, col.name)
    allowed = next((r.values for r in rules if isinstance(r, InSet)), None)
    bounds = next((r for r in rules if isinstance(r, Between)), None)
    if col.rule is Pseudonymisation.person_key or col.name == "person_key":
        return f"{rng.getrandbits(256):064x}"
    if col.rule is Pseudonymisation.age_band or col.name == "age_band":
        low = rng.randrange(0, 90, 5)
        return f"{low}-{low + 4}"
    if col.code_system is not None:
        return rng.choice(sorted(codelists.codes(col.code_system.value)))
    if allowed:
        return rng.choice(allowed)
    day = _ANCHOR - dt.timedelta(days=rng.randrange(365))
    if col.rule is Pseudonymisation.month:
        return day.replace(day=1).isoformat()
    if col.type is ColumnType.date:
        return day.isoformat()
    if col.type is ColumnType.timestamp:
        return f"{day.isoformat()}T{rng.randrange(24):02d}:{rng.randrange(60):02d}:00"
    if col.type is ColumnType.boolean:
        return rng.choice(["true", "false"])
    if col.type in (ColumnType.integer, ColumnType.bigint, ColumnType.double):
        low = float(bounds.min) if bounds and isinstance(bounds.min, int | float) else 0.0
        high = float(bounds.max) if bounds and isinstance(bounds.max, int | float) else low + 100
        if col.type is ColumnType.double:
            return round(rng.uniform(low, high), 2)
        return rng.randint(int(low), int(high))
    if col.rule is Pseudonymisation.birth_year:
        return rng.randint(1930, 2020)
    return f"syntetisk {col.name.replace('_', ' ')} {row + 1}"


def sample_rows(product: Product, rows: int = ROWS) -> list[dict[str, Any]]:
    """Synthetic rows with the product's published columns (see the module docstring)."""
    seed = int(hashlib.sha256(product.ref.encode("utf-8")).hexdigest()[:16], 16)
    rng = random.Random(seed)
    columns = product.published_columns
    return [{c.name: _value(product, c, rng, i) for c in columns} for i in range(rows)]


def write_sample(product: Product, root: Path | None = None) -> Path:
    """Write the product's sample as CSV (UTF-8, header row) and return its path."""
    path = sample_path(product, root)
    path.parent.mkdir(parents=True, exist_ok=True)
    rows = sample_rows(product)
    with path.open("w", encoding="utf-8", newline="") as out:
        writer = csv.DictWriter(out, fieldnames=[c.name for c in product.published_columns])
        writer.writeheader()
        writer.writerows(rows)
    return path
