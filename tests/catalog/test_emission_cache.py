"""An emission that reuses what it read (or skips) writes exactly what a full one writes.

After each change — nothing, a product re-published, a description in ``domains/``, a
quality result — three emissions are compared: the one with the cache
(:mod:`catalog.emission_cache`, as it runs), one with only the lake facts cached, and a
full one (cache dropped). The JSON file must be byte-for-byte the same and DataHub Lite
must hold the same aspects.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from catalog_testdata import FIXTURE_DOMAINS, fixture_registry

from catalog import emission_cache, emitted, urns
from catalog.facts import millis
from catalog.lake_facts import facts_from_lake
from catalog.lite import open_lite
from catalog.publish import emit_catalog
from regionlab import lake

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

NOW = dt.datetime(2026, 12, 3, 18, 0, tzinfo=dt.UTC)


@pytest.fixture
def domains(tmp_path: Path, var_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    copy = tmp_path / "domains"
    shutil.copytree(FIXTURE_DOMAINS, copy)
    monkeypatch.setenv("REGIONLAB_DOMAINS", str(copy))
    monkeypatch.delenv("DATAHUB_GMS_URL", raising=False)
    return copy


def _publish_persons(rows: int, run_id: str) -> int:
    con = lake.connect()
    try:
        return lake.publish(
            con,
            "population",
            "persons",
            f"SELECT 'k' || i AS person_key, '0-4' AS age_band, "
            f"CASE WHEN i < 3 THEN 'K' END AS sex FROM range({rows}) t(i)",
            extra_info={"run_id": run_id, "key_id": "00aa11bb22cc33dd"},
        )
    finally:
        con.close()


def _add_quality(run_id: str, status: str, when: str) -> None:
    con = lake.connect()
    try:
        con.execute(
            "CREATE TABLE IF NOT EXISTS lake._regionlab.quality_history (product VARCHAR, "
            'snapshot_id BIGINT, run_id VARCHAR, "check" VARCHAR, category VARCHAR, '
            "severity VARCHAR, status VARCHAR, unexpected_count BIGINT, element_count BIGINT, "
            "description VARCHAR, checked_at TIMESTAMPTZ)"
        )
        con.execute(
            "INSERT INTO lake._regionlab.quality_history VALUES ('population/persons', NULL, "
            f"'{run_id}', 'person_key_unique', 'conformance', 'blocking', '{status}', 0, 5, "
            f"'unik', TIMESTAMPTZ '{when}')"
        )
    finally:
        con.close()


@pytest.fixture
def small_lake(var_dir: Path, domains: Path) -> None:
    con = lake.connect()
    try:
        con.execute("CREATE SCHEMA IF NOT EXISTS lake._regionlab")
    finally:
        con.close()
    _publish_persons(5, "r1")
    _add_quality("r1", "passed", "2025-02-01 10:00:00+00")


def _lite_content(var: Path) -> dict[str, Any]:
    """Every entity's aspects as Lite returns them, Lite's own write times left out."""
    lite = open_lite(var / "datahub" / "lite.duckdb", read_only=True)
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


def _outputs(var: Path) -> tuple[bytes, dict[str, Any]]:
    return (var / "catalog" / "metadata.json").read_bytes(), _lite_content(var)


def _same_as_without_cache(var: Path, *, expect_unchanged: bool) -> bytes:
    """Emit with the cache, with the lake facts cached only, and in full: the same output."""
    cached = emit_catalog(now=NOW)
    assert cached.unchanged is expect_unchanged
    with_cache = _outputs(var)

    emission_cache.forget_emission()  # the lake facts from the cache, the rest built
    facts_only = emit_catalog(now=NOW)
    assert not facts_only.unchanged
    assert facts_only.lite_written == 0  # Lite already held all of it
    assert _outputs(var) == with_cache

    emission_cache.forget()  # a full emission: the lake read again
    full = emit_catalog(now=NOW)
    assert not full.unchanged and full.lite_written == 0
    assert _outputs(var) == with_cache
    assert (cached.proposals, cached.counts, cached.removed) == (
        full.proposals,
        full.counts,
        full.removed,
    )
    return with_cache[0]


def _product_properties(metadata: bytes, ref: str) -> dict[str, Any]:
    urn = urns.product_dataset(ref)
    for item in json.loads(metadata):
        if item.get("entityUrn") == urn and item.get("aspectName") == "datasetProperties":
            return item["aspect"]["json"]
    raise AssertionError(f"no datasetProperties for {ref}")


def test_cached_emission_equals_full_emission_after_each_change(small_lake, domains, var_dir):
    first = emit_catalog(now=NOW)
    assert not first.unchanged and first.lite_written == first.proposals

    # 1. nothing changed: nothing is built or written
    stamps = [emission_cache.file_stamp(var_dir / "catalog" / "metadata.json")]
    before = _same_as_without_cache(var_dir, expect_unchanged=True)
    again = emit_catalog(now=NOW)
    assert again.unchanged and again.lite_written == 0 and again.proposals == first.proposals
    assert emission_cache.file_stamp(var_dir / "catalog" / "metadata.json") != stamps[0]
    stamps.append(emission_cache.file_stamp(var_dir / "catalog" / "metadata.json"))
    assert emit_catalog(now=NOW).unchanged  # and the file is left alone
    assert emission_cache.file_stamp(var_dir / "catalog" / "metadata.json") == stamps[-1]

    # 2. a product re-published with other rows
    _publish_persons(7, "r2")
    after_publish = _same_as_without_cache(var_dir, expect_unchanged=False)
    assert after_publish != before
    assert b'"rowCount": 7' in after_publish and b'"rowCount": 7' not in before

    # 3. a description changed in domains/
    persons = domains / "population" / "persons.yaml"
    text = persons.read_text(encoding="utf-8")
    assert "Én række pr. borger" in text
    persons.write_text(text.replace("Én række pr. borger", "Én række pr. borger (ny)"), "utf-8")
    after_description = _same_as_without_cache(var_dir, expect_unchanged=False)
    assert "(ny)" in _product_properties(after_description, "population/persons")["description"]

    # 4. a quality result added
    _add_quality("r3", "failed", "2025-03-01 10:00:00+00")
    after_quality = _same_as_without_cache(var_dir, expect_unchanged=False)
    assert after_quality != after_description and b"r3" in after_quality

    # the Lite built along the way is the one a full emission into an empty Lite gives
    kept = _lite_content(var_dir)
    shutil.rmtree(var_dir / "datahub")
    emitted.forget()
    emission_cache.forget()
    emit_catalog(now=NOW)
    assert _lite_content(var_dir) == kept


def test_nothing_new_keeps_the_last_emission_time(small_lake, var_dir):
    """Skipped, the file keeps the stamp of the emission that last changed something: it
    differs from a full emission at the later time only in that stamp."""
    emit_catalog(now=NOW)
    later = NOW + dt.timedelta(hours=1)
    assert emit_catalog(now=later).unchanged
    kept = (var_dir / "catalog" / "metadata.json").read_text(encoding="utf-8")
    emission_cache.forget()
    assert not emit_catalog(now=later).unchanged
    full = (var_dir / "catalog" / "metadata.json").read_text(encoding="utf-8")
    assert kept != full
    assert kept.replace(str(millis(NOW)), str(millis(later))) == full


def test_a_sink_changed_by_anything_else_is_written_again(small_lake, var_dir):
    emit_catalog(now=NOW)
    assert emit_catalog(now=NOW).unchanged
    metadata = var_dir / "catalog" / "metadata.json"
    metadata.write_text("[]", encoding="utf-8")  # e.g. restored from elsewhere
    rewritten = emit_catalog(now=NOW)
    assert not rewritten.unchanged and metadata.read_text(encoding="utf-8") != "[]"
    assert emit_catalog(now=NOW).unchanged

    lite = open_lite(var_dir / "datahub" / "lite.duckdb")  # another writer
    lite.close()
    (var_dir / "datahub" / "lite.duckdb").touch()
    assert not emit_catalog(now=NOW).unchanged
    assert emit_catalog(now=NOW, lite=False).unchanged is False  # another sink set: built
    assert emit_catalog(now=NOW, lite=False).unchanged


def test_cached_facts_equal_the_facts_read_from_the_lake(small_lake, var_dir):
    registry = fixture_registry()
    facts = facts_from_lake(registry, now=NOW)
    emission_cache.store_facts("k", facts)
    assert emission_cache.cached_facts("k", NOW) == facts
    assert emission_cache.cached_facts("other", NOW) is None
    later = NOW + dt.timedelta(days=1)
    assert emission_cache.cached_facts("k", later) == facts.model_copy(
        update={"generated_at": later}
    )


def test_every_lake_commit_changes_the_fingerprint(small_lake, var_dir):
    first = emission_cache.lake_digest()
    assert first is not None and first != "absent"
    assert emission_cache.lake_digest() == first  # reading does not change it
    facts_from_lake(fixture_registry(), now=NOW)
    assert emission_cache.lake_digest() == first
    _add_quality("r9", "passed", "2025-04-01 10:00:00+00")
    assert emission_cache.lake_digest() != first


def test_a_postgres_lake_is_never_skipped(small_lake, var_dir, monkeypatch):
    monkeypatch.setenv("REGIONLAB_LAKE_CATALOG", "postgres:dbname=nothing host=127.0.0.1")
    monkeypatch.setenv("REGIONLAB_LAKE_DATA", str(var_dir / "pgdata"))
    assert emission_cache.lake_digest() is None
    assert emission_cache.fingerprint() is None


def test_lake_facts_do_not_make_duckdb_import_pandas(small_lake, var_dir):
    """DuckDB's Python client imports pandas (≈1 s) on a process's first bound parameter;
    reading the lake facts binds none (names are literals)."""
    import os
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from catalog_testdata import fixture_registry\n"
        "from catalog.lake_facts import facts_from_lake\n"
        "facts = facts_from_lake(fixture_registry())\n"
        "assert facts.products['population/persons'].row_count == 5\n"
        "print('pandas' in sys.modules)\n"
    )
    here = Path(__file__).resolve().parent
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(here.parents[1]), str(here)])}
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=here.parents[1]
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "False"


def test_the_light_paths_are_the_sinks_paths(var_dir, monkeypatch):
    """The skip check names the sinks' files without importing DataHub: the same files."""
    from catalog.lite import lite_file
    from catalog.sinks import json_path, rest_target

    assert emission_cache.json_file() == json_path()
    assert emission_cache.lite_path() == lite_file()
    monkeypatch.delenv("DATAHUB_GMS_URL", raising=False)
    assert emission_cache.rest_configured() is (rest_target() is not None) is False
    monkeypatch.setenv("DATAHUB_GMS_URL", "http://gms.example:8080")
    assert emission_cache.rest_configured() is (rest_target() is not None) is True


def test_an_input_changed_during_the_emission_is_not_recorded_as_emitted(
    small_lake, domains, var_dir, monkeypatch
):
    """The specs edited between the fingerprint and their loading, and put back afterwards:
    the fingerprint equals the first one again, but the output was built from the edit —
    the emission must not be remembered under it (nor its lake facts)."""
    import regionlab.spec

    persons = domains / "population" / "persons.yaml"
    original = persons.read_text(encoding="utf-8")
    real = regionlab.spec.load_domains

    def edited_while_emitting(*args: Any, **kwargs: Any) -> Any:
        persons.write_text(original.replace("Én række pr. borger", "Midt i (ny)"), "utf-8")
        return real(*args, **kwargs)

    monkeypatch.setattr(regionlab.spec, "load_domains", edited_while_emitting)
    emit_catalog(now=NOW)
    monkeypatch.setattr(regionlab.spec, "load_domains", real)
    assert b"Midt i (ny)" in (var_dir / "catalog" / "metadata.json").read_bytes()
    assert not emission_cache.facts_file().exists()
    persons.write_text(original, "utf-8")  # back to what the fingerprint saw
    again = emit_catalog(now=NOW)
    assert not again.unchanged
    assert b"Midt i (ny)" not in (var_dir / "catalog" / "metadata.json").read_bytes()
    assert emit_catalog(now=NOW).unchanged
