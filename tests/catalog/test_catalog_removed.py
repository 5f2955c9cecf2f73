"""A product that leaves domains/ is soft-deleted, so DataHub Lite (and REST) keep no ghosts."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from catalog_testdata import FIXTURE_DOMAINS

from catalog import urns
from catalog.lite import open_lite
from catalog.publish import emit_catalog
from catalog.site.readback import read_catalog
from regionlab.errors import UserError

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

GONE = "research/readmissions_30d"


@pytest.fixture
def domains(tmp_path: Path, var_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    copy = tmp_path / "domains"
    shutil.copytree(FIXTURE_DOMAINS, copy)
    monkeypatch.setenv("REGIONLAB_DOMAINS", str(copy))
    monkeypatch.delenv("DATAHUB_GMS_URL", raising=False)
    return copy


def _status(metadata: Path) -> dict[str, bool]:
    return {
        m["entityUrn"]: m["aspect"]["json"]["removed"]
        for m in json.loads(metadata.read_text(encoding="utf-8"))
        if m["aspectName"] == "status"
    }


def _lite_removed(var: Path, urn: str) -> bool | None:
    lite = open_lite(var / "datahub" / "lite.duckdb", read_only=True)
    try:
        return (lite.get(urn, ["status"]) or {}).get("status", {}).get("removed")
    finally:
        lite.close()


def test_a_product_removed_from_domains_is_marked_removed(domains, var_dir):
    first = emit_catalog()
    assert first.removed == 0
    dataset = urns.product_dataset(GONE)
    assert _status(first.json_path)[dataset] is False

    (domains / f"{GONE}.yaml").unlink()
    second = emit_catalog()
    status = _status(second.json_path)
    gone = {urn for urn, removed in status.items() if removed}
    # the product's table, its data product, its job and every assertion of its rules
    assert {dataset, urns.data_product(GONE), urns.job(GONE)} <= gone
    assert any(u.startswith("urn:li:assertion:") for u in gone)
    assert second.removed == len(gone)
    # nothing that still exists is touched
    assert status[urns.product_dataset("population/persons")] is False
    assert [u for u in gone if "readmissions_30d" not in u] == [], gone
    # DataHub Lite holds the soft delete; the site and `catalog show` leave the ghost out
    assert _lite_removed(var_dir, dataset) is True
    assert _lite_removed(var_dir, urns.product_dataset("population/persons")) is False
    assert GONE not in {p["ref"] for p in read_catalog(second.json_path)["products"]}
    from catalog.show import product_card

    lite = open_lite(var_dir / "datahub" / "lite.duckdb", read_only=True)
    try:
        with pytest.raises(UserError, match="removed"):
            product_card(lite, GONE)
    finally:
        lite.close()

    # a later emission keeps it removed; a product that comes back is live again
    assert emit_catalog().removed == second.removed
    shutil.copyfile(FIXTURE_DOMAINS / f"{GONE}.yaml", domains / f"{GONE}.yaml")
    back = emit_catalog()
    assert back.removed == 0
    assert _status(back.json_path)[dataset] is False
    assert _lite_removed(var_dir, dataset) is False
