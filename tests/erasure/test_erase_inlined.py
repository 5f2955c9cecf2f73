"""Erasure when a person's rows are inlined in the lake's catalogue database, not in Parquet.

A streaming product (issue 20) keeps its micro-batches inlined until a flush.
The erasure must find and delete those rows, leave no copy in the catalogue
(inlined tables of replaced tables included), and its verification must decode
the inlined rows: before the erasure it finds them there.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from regionlab import lake
from regionlab.erasure import erase
from regionlab.erasure.requests import make_request
from regionlab.erasure.verify import verify_erasure
from regionlab.privacy.keys import load_key
from regionlab.privacy.pseudonym import person_key
from regionlab.settings import Settings
from regionlab.spec import load_domains

ERASED = "010190-1234"
OTHERS = ["0202851235", "030370-2346"]


def _inlined_stream(settings: Settings) -> tuple[str, list[str]]:
    """``stream.events``: three micro-batches, inlined; the erased person in two of them."""
    key = load_key()
    erased = person_key(ERASED, key)
    others = [person_key(c, key) for c in OTHERS]
    con = lake.connect()
    try:
        con.execute("CREATE SCHEMA lake.stream")
        lake.set_inlining(con, 100, schema="stream")
        batches = [
            [(erased, "indlagt"), (others[0], "indlagt")],
            [(others[1], "udskrevet"), (erased, f"note om {ERASED}")],
            [(others[0], "flyttet")],
        ]
        for i, batch in enumerate(batches):
            rows = ", ".join(f"({i * 10 + j}, '{k}', '{t}')" for j, (k, t) in enumerate(batch))
            lake.publish(
                con,
                "stream",
                "events",
                f"SELECT * FROM (VALUES {rows}) t(event_id, person_key, text)",
                mode="append",
            )
        assert lake.inlined_rows(con) == {"stream.events": 5}
    finally:
        con.close()
    assert not list((settings.lake_dir / "data").rglob("stream/**/*.parquet"))
    return erased, others


def _catalog_bytes(settings: Settings) -> bytes:
    catalog = settings.lake_dir / "catalog.sqlite"
    return b"".join(p.read_bytes() for p in (catalog, Path(f"{catalog}-wal")) if p.is_file())


def test_erasure_removes_and_verifies_inlined_rows(keyed_var: Settings) -> None:
    erased, others = _inlined_stream(keyed_var)
    registry = load_domains()
    assert erased.encode() in _catalog_bytes(keyed_var)

    # The scanner can fail: it decodes the inlined rows and finds the person there,
    # including the CPR number written into a free-text column.
    control = verify_erasure(
        registry=registry,
        key=load_key(),
        keys=[erased],
        row_keys={},
        data_dir=keyed_var.lake_dir / "data",
        zones=[],
        staging_dir=keyed_var.staging_dir,
        catalog_file=str(keyed_var.lake_dir / "catalog.sqlite"),
    )
    assert not control.passed
    found = control.catalog_rows_found
    inlined = {name: n for name, n in found.items() if name.startswith("ducklake_inlined_data_")}
    assert sum(inlined.values()) == 2
    # The person key may also be a column's min or max in the catalogue's statistics.
    assert set(found) - set(inlined) <= {
        "ducklake_table_column_stats",
        "ducklake_file_column_stats",
    }
    assert control.data_file_rows_found == {}  # nothing of it is in Parquet

    receipt = erase(make_request("R-INL", "indsigelse", [ERASED]), registry=registry)

    v = receipt.verification
    assert v.passed, v
    assert receipt.removed.lake == {"stream/events": 2}
    assert v.catalog_tables_scanned > 0 and v.catalog_rows_found == {}
    con = lake.connect(read_only=True)
    try:
        left = con.execute("SELECT person_key FROM lake.stream.events ORDER BY event_id").fetchall()
        assert [r[0] for r in left] == [others[0], others[1], others[0]]
        # The rewritten product is small, so it is inlined again under the schema's option.
        assert lake.inlined_rows(con) == {"stream.events": 3}
    finally:
        con.close()
    catalog = _catalog_bytes(keyed_var)
    assert erased.encode() not in catalog and ERASED.encode() not in catalog
    assert others[1].encode() in catalog  # the other persons' inlined rows are still there


def test_flushed_then_erased_rows_leave_neither_files_nor_inlined_copies(
    keyed_var: Settings,
) -> None:
    """Half the stream flushed to Parquet, half still inlined: both halves are erased."""
    erased, _ = _inlined_stream(keyed_var)
    con = lake.connect()
    try:
        assert lake.flush_inlined_data(con, schema="stream") == {"stream.events": 5}
        lake.publish(
            con,
            "stream",
            "events",
            f"SELECT 99 AS event_id, '{erased}' AS person_key, 'igen' AS text",
            mode="append",
        )
        assert lake.inlined_rows(con) == {"stream.events": 1}
    finally:
        con.close()

    receipt = erase(make_request("R-INL2", "indsigelse", [ERASED]))

    assert receipt.verification.passed, receipt.verification
    assert receipt.removed.lake == {"stream/events": 3}
    for path in (keyed_var.lake_dir / "data").rglob("*.parquet"):
        text = duckdb.sql(f"SELECT CAST(t AS VARCHAR) FROM read_parquet('{path}') t").fetchall()
        assert not any(erased in row[0] or ERASED in row[0] for row in text), path.name
    assert erased.encode() not in _catalog_bytes(keyed_var)
