"""Aggregate products declare their small-cell policy and the audit enforces it (issue 14)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from pipelines.quality_hook import check_names, quality_hook
from regionlab import lake
from regionlab.settings import Settings
from regionlab.spec import Product, load_domains
from regionlab.spec.vocab import SmallCellPolicy
from regionlab.wap.engine import run_derived_product, run_source_product

REGISTRY = load_domains()
AGGREGATE = "population/municipality_population"


def _counts(ref: str) -> list[int | None]:
    con = lake.connect(read_only=True)
    try:
        table = ref.replace("/", ".")
        return [r[0] for r in con.execute(f"SELECT persons FROM lake.{table}").fetchall()]
    finally:
        con.close()


def test_small_cells_are_suppressed_or_block_the_publish(platform: Settings) -> None:
    persons = run_source_product(REGISTRY.product("population/persons"), platform)
    assert persons.status == "published"
    product = REGISTRY.product(AGGREGATE)
    assert product.privacy.small_cells is not None
    assert "privacy_small_cells" in [name for name, _, _ in check_names(product)]

    # block: a single count from 1 to 4 stops the publish, and the reason says how many
    blocking = product.model_copy(deep=True)
    blocking.privacy.small_cells.policy = SmallCellPolicy.block
    blocked = run_derived_product(blocking, platform, quality_hook=quality_hook)
    assert blocked.status == "audit_failed"
    gate = next(c for c in blocked.blocking_failures if c.check == "privacy_small_cells")
    assert gate.unexpected_count and gate.unexpected_count > 0
    assert "privacy_small_cells (blocking):" in blocked.failure_reason()

    # suppress (as declared): published, and no count from 1 to 4 reaches the lake
    run = run_derived_product(product, platform, quality_hook=quality_hook)
    assert run.status == "published", run.failure_reason()
    report = next(c for c in run.checks if c.check == "privacy_small_cells")
    assert report.passed and f"{gate.unexpected_count} cells below 5 suppressed" in report.detail
    counts = _counts(AGGREGATE)
    assert not [c for c in counts if c is not None and 0 < c < 5]
    assert sum(c is None for c in counts) == gate.unexpected_count


def test_small_cell_count_columns_must_be_published_integers() -> None:
    data = REGISTRY.product(AGGREGATE).model_dump()
    data["privacy"]["small_cells"]["count_columns"] = ["age_band"]
    with pytest.raises(ValidationError, match="count_columns: 'age_band' is not a published"):
        Product.model_validate(data)
