"""Erasure proportional to the person: only the data files whose key range holds them.

A person-level product is published ordered by ``person_key`` in files of a bounded
size, so each file covers a contiguous key range and the catalogue's per-file
statistics say which file can hold a person. The erasure rewrites that file only
(the other files keep their paths), the person is gone from every readable snapshot,
from disk and from the catalogue, and the verification decodes only the files the
statistics do not exclude. Where a table statistic would keep the person's key (the
person is the table's minimum), the whole table is rewritten instead.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import duckdb

from regionlab import lake
from regionlab.erasure import erase
from regionlab.erasure.audit import audit_erased
from regionlab.erasure.requests import make_request
from regionlab.erasure.verify import Verification, scan_files
from regionlab.privacy.keys import load_key
from regionlab.privacy.pseudonym import person_key
from regionlab.settings import Settings

ERASED = "010190-1234"
OTHERS = 4000


def _other_keys() -> list[str]:
    return [hashlib.sha256(f"other-{i}".encode()).hexdigest() for i in range(OTHERS)]


def _keys_above(key: str, count: int) -> list[str]:
    """``count`` 64-hex keys spread over the range above ``key`` (the test key is random, so
    filtering a fixed list left as few as a few hundred: one file, and a flaky test)."""
    low, high = int(key, 16) + 1, 16**64 - 1
    return [format(low + (high - low) * i // count, "064x") for i in range(1, count + 1)]


def _publish_visits(settings: Settings, keys: list[str]) -> list[Path]:
    """``clinic.visits``: three rows per person, published unordered, in small files."""
    rows = ", ".join(f"('{k}')" for k in keys)
    con = lake.connect()
    try:
        con.execute("CALL lake.set_option('target_file_size', '16KB')")
        con.execute("CALL lake.set_option('parquet_row_group_size', '2048')")
        lake.publish(
            con,
            "clinic",
            "visits",
            f"""SELECT k AS person_key, 'V' || CAST(hash(k, n) AS VARCHAR) AS visit_id,
                       n AS visit_no, 'besøg ' || CAST(n AS VARCHAR) AS note
                FROM (VALUES {rows}) p(k), range(3) r(n) ORDER BY hash(k, n)""",
        )
        return lake.data_files(con, "clinic", "visits")
    finally:
        con.close()


def _file_ranges(files: list[Path]) -> dict[Path, tuple[str, str]]:
    out = {}
    for path in files:
        lo, hi = duckdb.sql(
            f"SELECT min(person_key), max(person_key) FROM read_parquet('{path}')"
        ).fetchone()
        if lo is not None:  # DuckLake may write an empty file
            out[path] = (lo, hi)
    return out


def _found_on_disk(settings: Settings, needle: str) -> list[str]:
    found = []
    for path in (settings.lake_dir / "data").rglob("*.parquet"):
        rows = duckdb.sql(f"SELECT CAST(t AS VARCHAR) FROM read_parquet('{path}') t").fetchall()
        if any(needle in r[0] for r in rows):
            found.append(path.name)
    return found


def _catalog_bytes(settings: Settings) -> bytes:
    catalog = settings.lake_dir / "catalog.sqlite"
    return b"".join(p.read_bytes() for p in (catalog, Path(f"{catalog}-wal")) if p.is_file())


def test_erasure_rewrites_only_the_files_that_hold_the_person(keyed_var: Settings) -> None:
    erased = person_key(ERASED, load_key())
    others = _other_keys()
    assert min(others) < erased < max(others)  # not a table statistic
    before = _publish_visits(keyed_var, [*others, erased])
    ranges = _file_ranges(before)
    assert len(ranges) >= 5
    # Published ordered by person key: the files' key ranges do not overlap.
    spans = sorted(ranges.values())
    # (a person's rows may straddle two files)
    assert all(a[1] <= b[0] for a, b in zip(spans, spans[1:], strict=False))
    holding = {p for p, (lo, hi) in ranges.items() if lo <= erased <= hi}
    assert 1 <= len(holding) <= 2
    assert _found_on_disk(keyed_var, erased)

    receipt = erase(make_request("R-FILE", "indsigelse", [ERASED]))

    v = receipt.verification
    assert v.passed, v
    assert receipt.removed.lake == {"clinic/visits": 3}
    con = lake.connect(read_only=True)
    try:
        after = lake.data_files(con, "clinic", "visits")
        snapshots = [s.id for s in lake.list_snapshots(con)]
        info = lake.list_snapshots(con)[-1].info
    finally:
        con.close()
    # Every file but the one(s) that held the person is the same file as before.
    assert set(before) - set(after) == holding
    assert 1 <= len(set(after) - set(before)) <= len(holding)
    assert info["files_rewritten"] == {"clinic/visits": len(holding)}
    assert info["tables_rewritten"] == []
    for snap in snapshots:
        ro = lake.connect(snapshot=snap)
        try:
            n = ro.execute(
                "SELECT count(*) FROM lake.clinic.visits WHERE person_key = ?", [erased]
            ).fetchone()[0]
            total = ro.execute("SELECT count(*) FROM lake.clinic.visits").fetchone()[0]
        finally:
            ro.close()
        assert n == 0
        assert total == 3 * OTHERS
    assert not any(p.exists() for p in holding)  # the old file left the disk
    assert _found_on_disk(keyed_var, erased) == []
    assert erased.encode() not in _catalog_bytes(keyed_var)
    # The verification decoded only what the statistics could not exclude...
    assert v.data_files_excluded_by_statistics == len(ranges) - len(holding)
    # ...and the full decoding scan (the independent audit) agrees.
    full = Verification()
    scan_files(full, keyed_var.lake_dir / "data", load_key(), [erased], [])
    assert full.data_files_scanned > v.data_files_scanned
    assert full.data_file_rows_found == {}

    # The scheduled audit (every file, every person on the suppression list) agrees...
    report = audit_erased()
    assert report.passed, report
    assert report.persons_listed == 1
    assert report.data_files_scanned == full.data_files_scanned
    # ...and it can fail: rows of the erased person written behind the erasure's back,
    # by key and as a CPR number in free text, are found.
    con = lake.connect()
    try:
        lake.publish(con, "clinic", "leak", f"SELECT '{erased}' AS person_key, 1 AS n")
        lake.publish(con, "clinic", "memo", f"SELECT 'ring til {ERASED} i morgen' AS note")
    finally:
        con.close()
    leaked = audit_erased()
    assert not leaked.passed
    files = {p: n for p, n in leaked.rows_found.items() if not p.startswith("catalogue:")}
    assert sorted(files.values()) == [1, 1], leaked.rows_found
    assert {p.split("/")[1] for p in files} == {"leak", "memo"}
    # (their one-row tables' min/max statistics hold the same values)
    assert "catalogue:ducklake_file_column_stats" in leaked.rows_found


def test_the_statistics_exclusion_is_not_trusted_for_a_file_that_holds_the_person(
    keyed_var: Settings,
) -> None:
    """Control: before the erasure the verification finds the person's rows in the file."""
    from regionlab.erasure.verify import verify_erasure
    from regionlab.spec import load_domains

    erased = person_key(ERASED, load_key())
    _publish_visits(keyed_var, [*_other_keys(), erased])
    control = verify_erasure(
        registry=load_domains(),
        key=load_key(),
        keys=[erased],
        row_keys={},
        data_dir=keyed_var.lake_dir / "data",
        zones=[],
        staging_dir=keyed_var.staging_dir,
        catalog_file=str(keyed_var.lake_dir / "catalog.sqlite"),
    )
    assert not control.passed
    assert sum(control.data_file_rows_found.values()) == 3
    assert control.data_files_excluded_by_statistics >= 4


def test_a_person_at_a_table_statistic_gets_the_whole_table_rewritten(
    keyed_var: Settings,
) -> None:
    erased = person_key(ERASED, load_key())
    others = _keys_above(erased, OTHERS)  # the person is the table's minimum
    before = _publish_visits(keyed_var, [*others, erased])
    assert len(before) >= 2

    receipt = erase(make_request("R-MIN", "indsigelse", [ERASED]))

    assert receipt.verification.passed, receipt.verification
    assert receipt.removed.lake == {"clinic/visits": 3}
    con = lake.connect(read_only=True)
    try:
        after = lake.data_files(con, "clinic", "visits")
        info = lake.list_snapshots(con)[-1].info
    finally:
        con.close()
    assert info["tables_rewritten"] == ["clinic/visits"]
    assert not set(before) & set(after)  # a new table: every file new
    # ...still in the publish layout, so the next erasure can go file by file.
    spans = sorted(_file_ranges(after).values())
    assert len(spans) >= 2
    assert all(a[1] <= b[0] for a, b in zip(spans, spans[1:], strict=False))
    assert not any(p.exists() for p in before)
    assert _found_on_disk(keyed_var, erased) == []
    # Not even the table's min statistic keeps the key.
    assert erased.encode() not in _catalog_bytes(keyed_var)

    # The weekly Dagster job runs the independent audit over it.
    from pipelines.schedules import erasure_audit_job, erasure_audit_schedule

    assert erasure_audit_schedule.cron_schedule == "30 3 * * 0"
    run = erasure_audit_job.execute_in_process()
    assert run.success
    counts = run.output_for_node("erasure_audit_op")
    assert counts["persons_listed"] == 1 and counts["rows_found"] == 0
    assert counts["data_files_scanned"] >= len(after)
