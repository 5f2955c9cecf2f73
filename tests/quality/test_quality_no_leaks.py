"""A failing uniqueness rule on pseudonyms leaves no pseudonym in results, logs or history."""

from __future__ import annotations

import datetime as dt
import json
import logging

import duckdb
import pytest

from quality import history
from quality.validate import audit
from regionlab import lake
from regionlab.settings import Settings
from regionlab.spec import load_domains
from tests.quality.conftest import build_staging, planted

PERSONS = load_domains().product("population/persons")


def test_failing_unique_person_key_leaks_no_values(
    defect_platform: Settings, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture
) -> None:
    assert planted(defect_platform.sources_dir, PERSONS)["duplicate_row"] > 0
    staging, ref_date = build_staging(defect_platform, PERSONS)
    con = duckdb.connect(str(staging), read_only=True)
    keys = [
        k
        for (k,) in con.execute(
            "SELECT DISTINCT person_key FROM staged WHERE person_key IS NOT NULL"
        ).fetchall()
    ]
    con.close()
    assert len(keys) > 100 and all(len(k) >= 16 for k in keys)

    caplog.set_level(logging.DEBUG)
    lake_con = lake.connect()
    try:
        results = audit(lake_con, staging, PERSONS, ref_date)
        unique = next(r for r in results if r.check == "person_key_unique")
        assert unique.status.value == "failed" and unique.unexpected_count > 0

        history.ensure(lake_con)
        rows = history.history_rows(results, PERSONS.ref, None, "run-1", dt.datetime.now(dt.UTC))
        lake_con.executemany(history.INSERT, rows)
        stored = lake_con.execute(f"SELECT * FROM {history.TABLE}").fetchall()
    finally:
        lake_con.close()

    out = capsys.readouterr()
    haystacks = {
        "results": json.dumps([r.model_dump(mode="json") for r in results]),
        "logs": "\n".join(r.getMessage() for r in caplog.records) + caplog.text,
        "output": out.out + out.err,
        "history": repr(stored),
    }
    assert len(stored) == len(results)
    for name, text in haystacks.items():
        # a key or any 12-character piece of one would be a leak
        leaked = [k for k in keys if k in text or k[:12] in text]
        assert not leaked, f"{len(leaked)} person keys leaked into {name}"
