"""An emission writes to DataHub Lite only what changed, and Lite ends up the same."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path
from typing import Any

import pytest
from catalog_testdata import FIXTURE_DOMAINS

from catalog import emitted, urns
from catalog.emit import build_mcps
from catalog.facts import millis
from catalog.lite import open_lite
from catalog.publish import emit_catalog

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@pytest.fixture
def domains(tmp_path: Path, var_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    copy = tmp_path / "domains"
    shutil.copytree(FIXTURE_DOMAINS, copy)
    monkeypatch.setenv("REGIONLAB_DOMAINS", str(copy))
    monkeypatch.delenv("DATAHUB_GMS_URL", raising=False)
    return copy


def _lite(var: Path) -> Path:
    return var / "datahub" / "lite.duckdb"


def _content(var: Path) -> dict[str, Any]:
    """Every entity's aspects as Lite returns them, audit times left out."""
    lite = open_lite(_lite(var), read_only=True)
    try:
        return {urn: _no_times(lite.get(urn, None)) for urn in sorted(lite.list_ids())}
    finally:
        lite.close()


def _no_times(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _no_times(v) for k, v in value.items() if k not in {"time", "lastObserved"}}
    if isinstance(value, list):
        return [_no_times(v) for v in value]
    return value


def _description(var: Path, urn: str) -> str:
    lite = open_lite(_lite(var), read_only=True)
    try:
        return lite.get(urn, ["datasetProperties"])["datasetProperties"]["description"]
    finally:
        lite.close()


def test_nothing_new_writes_nothing_and_a_change_writes_only_itself(domains, var_dir):
    first = emit_catalog()
    assert first.lite_written and first.lite_unchanged == 0
    stamp = _lite(var_dir).stat().st_mtime_ns
    before = _content(var_dir)

    again = emit_catalog()  # a later time stamp, nothing else new
    assert again.lite_written == 0
    assert again.lite_unchanged == again.proposals == first.proposals
    assert _lite(var_dir).stat().st_mtime_ns == stamp  # Lite was not even opened to write
    assert _content(var_dir) == before

    persons = domains / "population" / "persons.yaml"
    persons.write_text(
        persons.read_text(encoding="utf-8").replace(
            "Én række pr. borger", "Én række pr. borger (ændret)"
        ),
        encoding="utf-8",
    )
    changed = emit_catalog()
    assert 0 < changed.lite_written < changed.proposals // 10, changed.lite_written
    dataset = urns.product_dataset("population/persons")
    assert "(ændret)" in _description(var_dir, dataset)
    # the catalogue Lite holds is the one a full emission into an empty Lite gives
    kept = _content(var_dir)
    shutil.rmtree(var_dir / "datahub")
    full = emit_catalog()
    assert full.lite_unchanged == 0 and full.lite_written == full.proposals
    assert _content(var_dir) == kept


def test_lite_written_by_anything_else_gets_everything_again(domains, var_dir):
    first = emit_catalog()
    state = emitted.load(_lite(var_dir))
    assert state.valid and state.urns() == set(_content(var_dir))

    lite = open_lite(_lite(var_dir))  # another writer (e.g. `datahub lite import`)
    try:
        lite.write(build_mcps_one(first))
    finally:
        lite.close()
    assert not emitted.load(_lite(var_dir)).valid
    again = emit_catalog()
    assert again.lite_unchanged == 0 and again.lite_written == again.proposals
    assert emitted.load(_lite(var_dir)).valid


def build_mcps_one(result) -> Any:
    """One proposal of the emission, read back from its proposals file."""
    from datahub.ingestion.source.file import read_metadata_file

    return next(iter(read_metadata_file(result.json_path)))


def _digests(registry, facts) -> dict[str, str]:
    when = millis(facts.generated_at)
    mcps = build_mcps(registry, facts)
    return {emitted.aspect_key(m): emitted.aspect_digest(m, when) for m in mcps}


def test_digest_ignores_the_emission_time_and_nothing_else(registry, facts):
    later = facts.model_copy(update={"generated_at": facts.generated_at + dt.timedelta(days=1)})
    one = _digests(registry, facts)
    assert one == _digests(registry, later)

    products = dict(facts.products)
    persons = products["population/persons"]
    products["population/persons"] = persons.model_copy(update={"row_count": persons.row_count + 1})
    more = facts.model_copy(update={"products": products})
    three = _digests(registry, more)
    differ = {k for k in one if one[k] != three.get(k)}
    dataset = urns.product_dataset("population/persons")
    assert differ and all(k.startswith(dataset + "\t") for k in differ), differ
