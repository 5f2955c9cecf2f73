"""Validation records the snapshot it read: a publish during the read changes neither."""

from __future__ import annotations

from pathlib import Path

from regionlab import lake
from regionlab.aimodels.runner import read_pinned


def test_a_publish_during_validation_does_not_move_the_read(var_dir: Path) -> None:
    writer = lake.connect()
    try:
        lake.publish(writer, "clinic", "contacts", "SELECT 1 AS x")
        con, snapshot = read_pinned()
        try:
            lake.publish(writer, "clinic", "contacts", "SELECT 2 AS x", mode="append")
            assert lake.current_snapshot(writer) > snapshot
            assert con.execute("SELECT count(*) FROM lake.clinic.contacts").fetchone()[0] == 1
            assert lake.current_snapshot(con) == snapshot
        finally:
            con.close()
    finally:
        writer.close()
