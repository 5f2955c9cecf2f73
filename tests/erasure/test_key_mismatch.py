"""A key other than the lake's is refused: by ingest, by erasure and by `regionlab run`.

Before, a run with another REGIONLAB_KEY published person keys that join nothing
next to the old ones, and the suppression list (kept per key id) no longer
matched, so an erased person was published again (issue 15, finding 4).
"""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path

import polars as pl
import pytest

import cli
from regionlab import lake
from regionlab.erasure import erase, make_request
from regionlab.platform.lake_key import PSEUDONYM_KEY, KeyMismatch, lake_key_ids
from regionlab.privacy.keys import init_key, load_key
from regionlab.privacy.pseudonym import person_key
from regionlab.settings import Settings
from regionlab.spec import load_domains
from regionlab.wap.engine import run_source_product

PERSONS = load_domains().product("population/persons")


def _cprs(settings: Settings) -> list[str]:
    out = []
    for path in sorted((settings.sources_dir / "cpr" / "persons").glob("*.csv")):
        frame = pl.read_csv(path, infer_schema_length=0, truncate_ragged_lines=True,
                            ignore_errors=True)  # fmt: skip
        out += frame["cpr"].drop_nulls().to_list()
    return out


def _keys_in_lake() -> set[str]:
    con = lake.connect(read_only=True)
    try:
        return {
            r[0] for r in con.execute("SELECT person_key FROM lake.population.persons").fetchall()
        }
    finally:
        con.close()


def _snapshot() -> int:
    con = lake.connect(read_only=True)
    try:
        return lake.current_snapshot(con)
    finally:
        con.close()


def _switch_key(var: Path, monkeypatch: pytest.MonkeyPatch, name: str) -> str:
    path = var / "secrets" / f"{name}.key"
    if not path.exists():
        init_key(path)
    monkeypatch.setenv("REGIONLAB_KEY_FILE", str(path))
    return load_key().key_id


def test_another_key_is_refused_and_an_erased_person_stays_erased(
    platform: Settings, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    lake_key = load_key()
    first = run_source_product(PERSONS, platform)
    assert first.status == "published", first.blocking_failures
    con = lake.connect(read_only=True)
    assert lake_key_ids(con) == [lake_key.key_id]
    con.close()

    published = _keys_in_lake()
    valid = [c for c in _cprs(platform) if person_key_or_none(c, lake_key) in published][:2]
    erased = valid[0]
    receipt = erase(make_request("R-KEY-1", "indsigelse", [erased]))
    assert receipt.verification.passed
    assert person_key(erased, lake_key) not in _keys_in_lake()
    before = (_snapshot(), _keys_in_lake())

    other = _switch_key(platform.var_dir, monkeypatch, "other")
    assert other != lake_key.key_id
    with pytest.raises(KeyMismatch) as refused:
        run_source_product(PERSONS, platform, full_refresh=True)
    message = str(refused.value)
    assert other in message and lake_key.key_id in message
    assert "regionlab keys show" in message
    assert erased not in message
    assert (_snapshot(), _keys_in_lake()) == before  # nothing published with the other key

    with pytest.raises(KeyMismatch):  # an erasure under the other key would match no one
        erase(make_request("R-KEY-2", "indsigelse", [valid[1]]))

    # `regionlab run` says so before Dagster starts: one line, exit status 1, no traceback.
    old = sys.argv
    sys.argv = ["regionlab", "run", "--product", "population/persons", "--no-catalog"]
    try:
        with pytest.raises(SystemExit) as exited:
            cli.main()
    finally:
        sys.argv = old
    err = capsys.readouterr().err
    assert exited.value.code == 1
    assert "Traceback" not in err
    assert "refusing to run" in " ".join(err.split()) and other in " ".join(err.split())

    # Back on the lake's key, a full reload publishes everyone but the erased person.
    monkeypatch.setenv("REGIONLAB_KEY_FILE", str(platform.var_dir / "secrets" / "pseudonym.key"))
    again = run_source_product(PERSONS, platform, full_refresh=True)
    assert again.status == "published", again.blocking_failures
    keys = _keys_in_lake()
    assert person_key(erased, lake_key) not in keys
    assert person_key(valid[1], lake_key) in keys
    assert len(keys) == len(before[1])


def test_a_lake_from_before_the_key_table_is_judged_by_its_snapshots(
    platform: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    lake_key = load_key()
    assert run_source_product(PERSONS, platform).status == "published"
    con = lake.connect()
    con.execute(f"DROP TABLE {PSEUDONYM_KEY.qualified}")  # as a lake written before it existed
    assert lake_key_ids(con) == [lake_key.key_id]  # from the publish snapshot's key_id
    con.close()
    _switch_key(platform.var_dir, monkeypatch, "other")
    with pytest.raises(KeyMismatch):
        run_source_product(PERSONS, platform, full_refresh=True)


def person_key_or_none(cpr: str, key) -> str | None:
    with contextlib.suppress(ValueError):
        return person_key(cpr, key)
    return None
