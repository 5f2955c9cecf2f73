"""Erasure searches results too: airlock submissions, releases and workspaces' outputs/.

Files are planted under a real var/ as the airlock and a project member would
leave them: an approved release keyed by a 16-character pseudonym prefix, a
UTF-16 CSV with a CPR number, a Parquet file in outputs/ with a full project
pseudonym, the lake key in a manifest. The verification must name each file
(never the value) and fail; another person's files must pass.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import duckdb

from regionlab.erasure.resolve import person_keys
from regionlab.erasure.stores import STORES, AirlockStore, Selection
from regionlab.erasure.verify import Verification
from regionlab.privacy.keys import derive_key, load_key
from regionlab.privacy.pseudonym import hmac_hex
from regionlab.settings import get_settings

CPR = "0102031234"
OTHER_CPR = "0202021111"
PROJECT = "proj-x"


def _plant(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def _selection(cprs: list[str]) -> Selection:
    key = load_key()
    return Selection(
        kind="erasure",
        request_id="R-airlock",
        registry=None,  # type: ignore[arg-type]  # the airlock store reads no spec
        settings=get_settings(),
        key=key,
        started=datetime.now(UTC),
        keys=person_keys(cprs, key),
        cprs=cprs,
    )


def test_result_files_holding_an_erased_person_are_named(keyed_var: object) -> None:
    settings = get_settings()
    key = load_key()
    (lake_key,) = person_keys([CPR], key)
    (other_key,) = person_keys([OTHER_CPR], key)
    pseudo = hmac_hex(derive_key(key, f"project:{PROJECT}"), lake_key)
    other = hmac_hex(derive_key(key, f"project:{PROJECT}"), other_key)
    airlock = settings.research_dir / "airlock" / PROJECT
    planted = {
        "prefix": _plant(
            airlock / "s1" / "released" / "by_person.csv", f"id;n\n{pseudo[:16]};7\n".encode()
        ),
        "cpr-utf16": _plant(
            airlock / "s2" / "submitted" / "rows.csv",
            f"cpr,hba1c\n{CPR[:6]}-{CPR[6:]},48\n".encode("utf-16"),
        ),
        "lake-key": _plant(airlock / "s3" / "manifest.json", f'{{"x": "{lake_key}"}}'.encode()),
    }
    outputs = settings.workspace_dir(PROJECT) / "outputs"
    outputs.mkdir(parents=True)
    parquet = outputs / "rows.parquet"
    con = duckdb.connect()
    con.execute(
        f"COPY (SELECT '{pseudo}' AS person_key, 48.0 AS value) TO '{parquet}' (FORMAT parquet)"
    )
    con.close()
    planted["parquet"] = parquet
    # Another person's results, and a CPR-like number that is not theirs: clean.
    _plant(airlock / "s4" / "released" / "other.csv", f"id,n\n{other[:16]},9\n".encode())
    _plant(outputs / "table.csv", b"age_band,n\n70-74,12\n0102031235,1\n")

    found = Verification()
    AirlockStore().verify(_selection([CPR]), found)
    var = settings.var_dir
    expected = {f"airlock:{p.relative_to(var)}" for p in planted.values()}
    assert set(found.other_found) == expected
    assert all(n >= 1 for n in found.other_found.values())
    assert found.airlock_files_scanned == 6
    assert not found.settle().passed
    assert any("output checker withdraws" in n for n in found.notes)
    text = " ".join([*found.other_found, *found.notes])
    assert CPR not in text and pseudo[:16] not in text  # names files, never values

    clean = Verification()
    AirlockStore().verify(_selection([OTHER_CPR]), clean)
    assert clean.other_found == {
        "airlock:" + str((airlock / "s4" / "released" / "other.csv").relative_to(var)): 1
    }


def test_retention_and_empty_airlocks_are_left_alone(keyed_var: object) -> None:
    v = Verification()
    AirlockStore().verify(_selection([CPR]), v)
    assert v.other_found == {} and v.airlock_files_scanned == 0
    retention = Selection(**{**_selection([CPR]).__dict__, "kind": "retention"})
    _plant(get_settings().research_dir / "airlock" / PROJECT / "s" / "f.csv", CPR.encode())
    AirlockStore().verify(retention, v)
    assert v.other_found == {}


def test_the_airlock_store_runs_in_every_erasure() -> None:
    assert "airlock" in [s.name for s in STORES]


def test_compressed_and_renamed_results_are_searched_not_passed(keyed_var: object) -> None:
    """Members write anything into outputs/: an Excel workbook (a zip), a gzipped CSV, a
    Parquet file saved without its suffix. Their bytes hide the CPR number; the scan must
    look inside (or report the file), never find them clean."""
    import gzip
    import io
    import zipfile

    settings = get_settings()
    outputs = settings.workspace_dir(PROJECT) / "outputs"
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as book:
        book.writestr("xl/sharedStrings.xml", f"<sst><si><t>{CPR}</t></si></sst>" * 50)
    planted = [
        _plant(outputs / "table.xlsx", buffer.getvalue()),
        _plant(outputs / "rows.csv.gz", gzip.compress(f"cpr,n\n{CPR},1\n".encode() * 50)),
    ]
    renamed = outputs / "rows"
    con = duckdb.connect()
    con.execute(
        "COPY (SELECT CASE WHEN i = 0 THEN 'a' WHEN i = 1 THEN 'z' "  # min/max stats: not it
        f"ELSE 'x' || i || ' {CPR}' END AS cpr, i AS n FROM range(500) t(i)) "
        f"TO '{renamed}' (FORMAT parquet, COMPRESSION zstd)"
    )
    con.close()
    planted.append(renamed)
    assert not any(CPR.encode() in p.read_bytes() for p in planted)  # really hidden

    found = Verification()
    AirlockStore().verify(_selection([CPR]), found)
    var = settings.var_dir
    assert set(found.other_found) == {f"airlock:{p.relative_to(var)}" for p in planted}
    assert not found.settle().passed

    clean = Verification()
    AirlockStore().verify(_selection([OTHER_CPR]), clean)
    assert clean.other_found == {}
