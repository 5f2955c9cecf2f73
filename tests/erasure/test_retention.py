"""Retention at the boundary day, on a hand-made lake: exactly the expired rows go."""

from __future__ import annotations

from datetime import date

import duckdb
import pytest

from catalog.erasure_facts import custom_properties, erasure_facts
from regionlab import lake
from regionlab.erasure import apply_retention
from regionlab.erasure.register import read_entries, verify_chain
from regionlab.erasure.retention import cutoff
from regionlab.settings import Settings
from regionlab.spec import load_domains
from tests.erasure.handmade import count, publish, values, workspace

REGISTRY = load_domains()
AS_OF = date(2026, 11, 1)  # notes/prescriptions: 10 years → 2016-11-01; persons: 20 → 2006-11-01


def _lake() -> None:
    publish(
        {
            "clinical_notes.notes": """SELECT * FROM (VALUES
                ('n1', 'pa', TIMESTAMP '2016-10-31 23:59:59'),  -- day before the cutoff: goes
                ('n2', 'pa', TIMESTAMP '2016-11-01 00:00:00'),  -- on the cutoff day: kept
                ('n3', 'pb', TIMESTAMP '2016-11-01 23:59:59'),  -- on the cutoff day: kept
                ('n4', 'pb', TIMESTAMP '2016-11-02 00:00:00'),  -- day after: kept
                ('n5', 'pc', TIMESTAMP '2009-05-05 10:00:00'),  -- long expired: goes
                ('n6', 'pc', NULL::TIMESTAMP)                   -- unknown date: kept
            ) t(note_id, person_key, written_at)""",
            "medication.prescriptions": """SELECT * FROM (VALUES
                ('r1', 'pa', DATE '2016-10-31'), ('r2', 'pa', DATE '2016-11-01'),
                ('r3', 'pb', DATE '2016-11-02')
            ) t(prescription_id, person_key, start_date)""",
            "population.persons": """SELECT * FROM (VALUES
                ('pa', DATE '2006-10-01'), ('pb', DATE '2006-11-01'),
                ('pc', DATE '2006-12-01'), ('pd', NULL::DATE)
            ) t(person_key, death_month)""",
            "labels.clinical_notes__notes__entities": """SELECT * FROM (VALUES
                ('n1', 'DIAGNOSE'), ('n1', 'MEDICIN'), ('n2', 'DIAGNOSE'), ('n5', 'DOSIS')
            ) t(row_key, label)""",
        }
    )


def test_cutoff_is_the_same_calendar_day() -> None:
    assert cutoff(AS_OF, 10) == date(2016, 11, 1)
    assert cutoff(date(2024, 2, 29), 10) == date(2014, 2, 28)


def test_retention_removes_exactly_the_expired_rows(keyed_var: Settings) -> None:
    _lake()
    ws = workspace(
        "p-ret",
        {
            "clinical_notes.notes": (
                "clinical_notes/notes",
                "SELECT 'x' || note_id AS note_id, written_at FROM (VALUES ('n1', TIMESTAMP "
                "'2016-10-31 08:00'), ('n2', TIMESTAMP '2016-11-01 08:00')) t(note_id, written_at)",
            )
        },
    )
    con = lake.connect(read_only=True)
    before = [s.id for s in lake.list_snapshots(con)]
    con.close()

    receipt = apply_retention(AS_OF)

    assert receipt.verification.passed, receipt.verification
    assert values("SELECT note_id FROM lake.clinical_notes.notes ORDER BY 1") == [
        "n2", "n3", "n4", "n6",
    ]  # fmt: skip
    assert values("SELECT prescription_id FROM lake.medication.prescriptions ORDER BY 1") == [
        "r2", "r3",
    ]  # fmt: skip
    assert values("SELECT person_key FROM lake.population.persons ORDER BY 1") == [
        "pb", "pc", "pd",
    ]  # fmt: skip
    assert values("SELECT row_key FROM lake.labels.clinical_notes__notes__entities") == ["n2"]
    assert receipt.removed.lake == {
        "clinical_notes/notes": 2,
        "medication/prescriptions": 1,
        "population/persons": 1,
    }
    assert receipt.removed.labelled == {"labels/clinical_notes__notes__entities": 3}
    assert receipt.retention_cutoffs == {
        "clinical_notes/notes": date(2016, 11, 1),
        "medication/prescriptions": date(2016, 11, 1),
        "population/persons": date(2006, 11, 1),
    }
    assert receipt.snapshots_expired == before
    assert receipt.files_deleted > 0
    [touched] = receipt.removed.workspaces
    assert touched.rows == {"clinical_notes.notes": 1}
    w = duckdb.connect(str(ws), read_only=True)
    assert w.execute("SELECT note_id FROM clinical_notes.notes").fetchall() == [("xn2",)]
    w.close()
    # the expired rows are gone from every file on disk, decoded
    data = keyed_var.lake_dir / "data"
    con = duckdb.connect()
    for path in (data / "clinical_notes" / "notes").glob("*.parquet"):
        ids = {
            r[0] for r in con.execute("SELECT note_id FROM read_parquet(?)", [str(path)]).fetchall()
        }
        assert not ids & {"n1", "n5"}
    con.close()

    # a second run finds nothing: no snapshot, nothing expired, rows unchanged
    again = apply_retention(AS_OF)
    assert again.lake_snapshot is None and again.snapshots_expired == []
    assert count("clinical_notes.notes") == 4
    assert again.verification.passed

    entries = read_entries()
    assert [e["kind"] for e in entries] == ["retention", "retention"]
    assert verify_chain() == 2
    facts = erasure_facts(["clinical_notes/notes", "population/persons"])
    notes = facts["clinical_notes/notes"]
    assert notes.retention_as_of == AS_OF and notes.retention_rows_removed_last_run == 0
    assert notes.erasure_requests_applied == 0
    props = custom_properties(notes)
    assert props["regionlab.retention_as_of"] == "2026-11-01"
    assert all(isinstance(v, str) for v in props.values())


def test_retention_in_a_date_shifted_workspace_takes_every_row_that_may_be_expired(
    keyed_var: Settings,
) -> None:
    """A workspace's dates are shifted per person by up to ``max_shift_days`` (issue 19): a
    row dated up to that many days after the cutoff may be expired in truth, so it goes."""
    import json

    _lake()
    ws = workspace(
        "p-shift",
        {
            "clinical_notes.notes": (
                "clinical_notes/notes",
                "SELECT note_id, written_at FROM (VALUES ('a', TIMESTAMP '2016-11-20 08:00'), "
                "('b', TIMESTAMP '2016-11-30 23:00'), ('c', TIMESTAMP '2016-12-01 00:00')) "
                "t(note_id, written_at)",
            )
        },
    )
    manifest = ws.parent / "manifest.json"
    data = json.loads(manifest.read_text(encoding="utf-8"))
    data["dates"] = {"method": "shift", "granularity": None, "max_shift_days": 30}
    manifest.write_text(json.dumps(data), encoding="utf-8")

    # cutoff 2016-11-01 + 30 days of slack: b may truly be 2016-10-31, c at the earliest 11-01
    receipt = apply_retention(AS_OF)

    assert receipt.verification.passed, receipt.verification
    w = duckdb.connect(str(ws), read_only=True)
    assert w.execute("SELECT note_id FROM clinical_notes.notes").fetchall() == [("c",)]
    w.close()


def test_retention_schedule_job_runs_retention(keyed_var: Settings) -> None:
    import dagster as dg

    from pipelines.schedules import retention_job, retention_schedule

    publish(
        {
            "medication.prescriptions": """SELECT * FROM (VALUES
                ('r1', 'pa', DATE '2000-01-01'), ('r2', 'pa', current_date)
            ) t(prescription_id, person_key, start_date)"""
        }
    )
    defs = dg.Definitions(jobs=[retention_job], schedules=[retention_schedule])
    assert defs.resolve_job_def("retention") is not None
    assert retention_schedule.cron_schedule == "30 2 * * *"
    result = retention_job.execute_in_process()
    assert result.success
    assert result.output_for_node("apply_retention_op")["rows_removed"] == 1
    assert values("SELECT prescription_id FROM lake.medication.prescriptions") == ["r2"]


@pytest.mark.parametrize(
    ("as_of", "notes_left", "persons_left"),
    [
        # one day earlier: cutoff 2016-10-31, so n1 (that day) stays; persons cutoff 2006-10-31
        (date(2026, 10, 31), ["n1", "n2", "n3", "n4", "n6"], ["pb", "pc", "pd"]),
        # one day later: cutoff 2016-11-02, so n2 and n3 go as well; n4 (that day) stays;
        # persons cutoff 2006-11-02, so pb (died 2006-11) goes
        (date(2026, 11, 2), ["n4", "n6"], ["pc", "pd"]),
    ],
)
def test_one_day_either_side_of_the_boundary(
    keyed_var: Settings, as_of: date, notes_left: list[str], persons_left: list[str]
) -> None:
    _lake()
    receipt = apply_retention(as_of, registry=REGISTRY)
    assert receipt.verification.passed
    assert values("SELECT note_id FROM lake.clinical_notes.notes ORDER BY 1") == notes_left
    assert values("SELECT person_key FROM lake.population.persons ORDER BY 1") == persons_left
    assert receipt.removed.lake["clinical_notes/notes"] == 6 - len(notes_left)
