"""The catalogue site's data: read back from the proposals file, not from the specs."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from catalog_testdata import GOLDEN

from catalog.site.build import search_documents
from catalog.site.readback import read_catalog
from regionlab.errors import UserError
from regionlab.spec import Registry


def _global(path: Path, name: str) -> object:
    text = path.read_text(encoding="utf-8")
    match = re.search(rf"window\.{name} = (.*?);\n", text, re.S)
    assert match, f"{name} not in {path.name}"
    return json.loads(match.group(1).replace("<\\/", "</"))


def test_readback_of_the_golden_metadata(registry: Registry) -> None:
    data = read_catalog(GOLDEN)
    assert [p["ref"] for p in data["products"]] == sorted(registry.products)
    persons = next(p for p in data["products"] if p["ref"] == "population/persons")
    spec = registry.products["population/persons"]
    assert [f["name"] for f in persons["fields"]] == [c.name for c in spec.published_columns]
    classes = {f["name"]: f["classification"] for f in persons["fields"]}
    for col in spec.published_columns:
        expected = col.classification.value
        if expected != "none":
            assert classes[col.name] == expected
    # Owners' names and e-mails come from the corpusers in the metadata, Danish letters intact.
    by_email = {str(o.email): o.name for o in spec.owners}
    assert {o["email"]: o["name"] for o in persons["owners"]} == by_email
    steward = next(o for o in persons["owners"] if o["role"] == "DATA_STEWARD")
    assert steward["name"] == "Mette Kjær Jensen"
    assert steward["email"] == "mette.kjaer.jensen@rsyd.dk"
    # Two audits of persons in the golden facts: the history keeps both, oldest first.
    history = persons["quality_history"]
    assert len(history) == 2 and history[0]["at"] < history[1]["at"]
    assert persons["quality_status"] in {"ok", "advarsel", "fejl"}
    # Lineage: the derived product knows its upstream and the upstream its downstream.
    readm = next(p for p in data["products"] if p["ref"] == "research/readmissions_30d")
    contacts = next(p for p in data["products"] if p["ref"] == "patient_administration/contacts")
    assert contacts["urn"] in readm["upstreams"] and readm["urn"] in contacts["downstreams"]
    assert any(c["column"] == "days_between" for c in readm["column_lineage"])


def test_owner_without_user_info_is_shown_by_id_not_guessed(tmp_path: Path) -> None:
    """Names are never made up from the user id, nor e-mails from a mail domain."""
    proposals = json.loads(GOLDEN.read_text(encoding="utf-8"))
    without = [p for p in proposals if p["aspectName"] != "corpUserInfo"]
    path = tmp_path / "metadata.json"
    path.write_text(json.dumps(without), encoding="utf-8")
    persons = next(p for p in read_catalog(path)["products"] if p["ref"] == "population/persons")
    steward = next(o for o in persons["owners"] if o["role"] == "DATA_STEWARD")
    assert steward == {
        "id": "mette.kjaer.jensen",
        "name": "mette.kjaer.jensen",
        "email": None,
        "role": "DATA_STEWARD",
        "role_label": steward["role_label"],
    }


def test_search_documents_carry_columns_owners_terms_and_initiatives() -> None:
    data = read_catalog(GOLDEN)
    docs = {d["id"]: d for d in search_documents(data)}
    persons = docs["produkt:population/persons"]
    assert "age_band" in persons["columns"] and "person_key" in persons["columns"]
    assert persons["owners"]
    kinds = {d["kind"] for d in docs.values()}
    assert {"Dataprodukt", "Domæne", "Begreb"} <= kinds
    if data["initiatives"]:
        assert "Initiativ" in kinds


def test_missing_or_broken_metadata_is_a_user_error(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="regionlab catalog emit"):
        read_catalog(tmp_path / "metadata.json")
    broken = tmp_path / "broken.json"
    broken.write_text("{not json", encoding="utf-8")
    with pytest.raises(UserError, match="not valid JSON"):
        read_catalog(broken)


@pytest.mark.slow
def test_built_site_is_self_contained(demo_site: Path, demo_var: Path) -> None:
    html = (demo_site / "index.html").read_text(encoding="utf-8")
    for ref in re.findall(r'(?:src|href)="([^"#]+)"', html):
        if ref.startswith("data:"):
            continue
        assert not re.match(r"^[a-z]+:", ref), ref
        assert (demo_site / ref.split("?")[0]).exists(), ref
    for name in ("app.js", "style.css", "data.js", "search-index.js", "vendor/minisearch.js"):
        text = (demo_site / name).read_text(encoding="utf-8")
        assert "https://cdn" not in text and "googleapis" not in text
    data = _global(demo_site / "data.js", "RL_DATA")
    metadata = json.loads((demo_var / "catalog" / "metadata.json").read_text(encoding="utf-8"))
    titles = {
        m["aspect"]["json"]["name"]
        for m in metadata
        if m["aspectName"] == "datasetProperties" and "regionlab.lake." in m["entityUrn"]
    }
    assert {p["title"] for p in data["products"]} == titles
    assert len(data["initiatives"]) > 0
    index = _global(demo_site / "search-index.js", "RL_INDEX")
    assert index["documentCount"] == len(search_documents(data))
