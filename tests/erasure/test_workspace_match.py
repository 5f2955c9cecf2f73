"""Workspaces are matched column by column: equality on pseudonyms, text only where it can hide.

A hand-made workspace in the build's layout (``person_key`` and re-keyed ids hold project
pseudonyms) with a person's data in every form an erasure must find: the person's
pseudonym, a removed row's re-keyed id, the person key inside free text and the CPR number
inside free text. The erasure removes exactly those rows and the verification, which must
fail before, passes after.
"""

from __future__ import annotations

import json

import duckdb

from regionlab.erasure.duckdb_files import FileTable
from regionlab.erasure.verify import Verification, scan_workspaces
from regionlab.erasure.workspaces import (
    hashed_columns,
    process_workspaces,
    project_key_of,
    table_source,
)
from regionlab.privacy.keys import load_key
from regionlab.privacy.pseudonym import hmac_hex, person_key
from regionlab.settings import Settings
from regionlab.spec import load_domains

PROJECT = "p-match"
CPR = "0101901234"
OTHER_CPR = "0202805678"


def _workspace(settings: Settings) -> tuple[str, str]:
    """The workspace file; returns the person's key and the removed row's key."""
    key = load_key()
    pk = person_key(CPR, key)
    other = person_key(OTHER_CPR, key)
    pkey = project_key_of(PROJECT, key)
    mine, theirs = hmac_hex(pkey, pk), hmac_hex(pkey, other)
    removed_sample = "S-removed"  # row key of a lab row the lake erasure removed
    folder = settings.workspaces_dir / PROJECT
    folder.mkdir(parents=True)
    con = duckdb.connect(str(folder / f"{PROJECT}.duckdb"))
    con.execute("CREATE SCHEMA laboratory")
    con.execute(
        "CREATE TABLE laboratory.lab_results (person_key VARCHAR, sample_id VARCHAR, "
        "comment VARCHAR, value DOUBLE, sampled_at TIMESTAMP)"
    )
    rows = [
        (mine, hmac_hex(pkey, "S-1"), "ok", 1.0),  # the person's own row
        (theirs, hmac_hex(pkey, removed_sample), "ok", 2.0),  # removed row, re-keyed id
        (theirs, hmac_hex(pkey, "S-3"), f"see {pk}", 3.0),  # person key in free text
        (theirs, hmac_hex(pkey, "S-4"), f"cpr {CPR[:6]}-{CPR[6:]}", 4.0),  # CPR in text
        (theirs, hmac_hex(pkey, "S-5"), "kept", 5.0),
        (theirs, hmac_hex(pkey, "S-6"), "kept too", 6.0),
    ]
    con.executemany(
        "INSERT INTO laboratory.lab_results VALUES (?, ?, ?, ?, TIMESTAMP '2020-01-01')", rows
    )
    con.close()
    manifest = {
        "products": [
            {
                "product": "laboratory/lab_results",
                "table": "laboratory.lab_results",
                "rekeyed_columns": ["person_key", "sample_id"],
            }
        ]
    }
    (folder / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    return pk, removed_sample


def test_table_source_casts_only_the_columns_that_could_hide_an_identifier() -> None:
    table = FileTable(
        "laboratory",
        "lab_results",
        {
            "person_key": "VARCHAR",
            "sample_id": "VARCHAR",
            "comment": "VARCHAR",
            "value": "DOUBLE",
            "sampled_at": "TIMESTAMP",
        },
    )
    manifest = {
        "products": [
            {"table": "laboratory.lab_results", "rekeyed_columns": ["person_key", "sample_id"]}
        ]
    }
    hashed = hashed_columns(manifest)["laboratory.lab_results"]
    sql = table_source(table, hashed)
    txt = sql.split(" AS txt")[0]
    assert 'CAST(t."comment" AS VARCHAR)' in txt and 'CAST(t."value" AS VARCHAR)' in txt
    for column in ("person_key", "sample_id", "sampled_at"):
        assert f'"{column}" AS VARCHAR' not in txt, column
    assert "CAST(t AS VARCHAR)" not in sql  # no whole row as text
    # every VARCHAR column is still selected for the exact comparison
    assert all(f't."{c}"' in sql for c in ("person_key", "sample_id", "comment"))


def test_workspace_rows_found_by_pseudonym_row_key_key_in_text_and_cpr_in_text(
    keyed_var: Settings,
) -> None:
    pk, removed_sample = _workspace(keyed_var)
    key = load_key()
    registry = load_domains()
    values = [removed_sample]

    before = Verification()
    scan_workspaces(before, key, [pk], values)
    assert sum(before.workspace_rows_found.values()) == 4

    results = process_workspaces(
        key=key,
        registry=registry,
        keys=[pk],
        values=values,
        lake_rows={"laboratory/lab_results": 2},
        request_id="R-match",
    )
    assert results[PROJECT].rows == {"laboratory.lab_results": 4}
    assert not results[PROJECT].rebuilt and results[PROJECT].flagged is None

    path = keyed_var.workspace_file(PROJECT)
    con = duckdb.connect(str(path), read_only=True)
    left = con.execute("SELECT comment FROM laboratory.lab_results ORDER BY value").fetchall()
    con.close()
    assert left == [("kept",), ("kept too",)]

    after = Verification()
    scan_workspaces(after, key, [pk], values)
    assert after.workspace_files_scanned == 1 and not after.workspace_rows_found
