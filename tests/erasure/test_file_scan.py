"""The data-file scan of an erasure's verification still finds every kind of trace.

The scan matches the person key by equality and searches only the columns whose
text could hold a key or a CPR number; these files put a person's traces in each
place a faster scan could miss, and one file holds only other persons.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
import pytest

from regionlab.erasure.verify import Verification, scan_files
from regionlab.privacy.keys import PseudonymKey
from regionlab.privacy.pseudonym import person_key

KEY = PseudonymKey(b"k" * 32)
CPR = "2101901234"  # fits a 32-bit INTEGER: a number column can hold it
OTHER = "0302851234"


def _write(path: Path, select: str) -> None:
    con = duckdb.connect()
    con.execute(f"COPY ({select}) TO '{path}' (FORMAT parquet)")
    con.close()


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    me, other = person_key(CPR, KEY), person_key(OTHER, KEY)
    day = dt.date(2024, 5, 1)
    files = {
        "by_key.parquet": f"SELECT '{me}' AS person_key, DATE '{day}' AS d",
        "in_text.parquet": f"SELECT 'x' AS person_key, 'see {me} here' AS note",
        "cpr_text.parquet": f"SELECT 'x' AS person_key, 'cpr {CPR[:6]}-{CPR[6:]}' AS note",
        "cpr_int.parquet": f"SELECT 'x' AS person_key, CAST({CPR} AS INTEGER) AS n",
        "row_key.parquet": "SELECT 'x' AS person_key, 'rk-7' AS sample_id",
        "clean.parquet": f"SELECT '{other}' AS person_key, 'cpr {OTHER}' AS note, 1.5 AS v",
    }
    for name, select in files.items():
        _write(tmp_path / name, select)
    return tmp_path


def test_every_trace_is_found_and_other_persons_are_not(data_dir: Path) -> None:
    v = Verification()
    scan_files(v, data_dir, KEY, [person_key(CPR, KEY)], ["rk-7"])
    assert v.data_files_scanned == 6
    assert v.data_file_rows_found == {
        "by_key.parquet": 1,
        "in_text.parquet": 1,
        "cpr_text.parquet": 1,
        "cpr_int.parquet": 1,
        "row_key.parquet": 1,
    }
