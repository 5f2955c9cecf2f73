"""Audit log: round trip, append-only hash chain, and no hidden value ever logged."""

from __future__ import annotations

import json
import threading
from datetime import UTC
from pathlib import Path

import polars as pl
import pytest

from regionlab.errors import UserError
from regionlab.research.audit_log import AuditLog
from regionlab.research.suppression import suppress


def record(log: AuditLog, user: str = "res01", **kw: object):
    args = dict(
        cohort_name="type 2 diabetes 2024",
        cohort_hash="a" * 64,
        snapshot_id=17,
        dimensions=["sex", "age_band"],
        shape={"cells": 9, "hidden": 2},
    )
    args.update(kw)
    return log.record(user, **args)


def test_round_trip(var_dir: Path) -> None:
    log = AuditLog(var_dir / "audit" / "feasibility.jsonl")
    assert log.entries() == []
    first = record(log, products=["lpr.contacts"])
    second = record(AuditLog(log.path), user="res02", snapshot_id="snap-18")

    entries = log.entries()
    assert entries == [first, second]
    assert entries[0].user == "res01" and entries[1].user == "res02"
    assert entries[0].shape.cells == 9 and entries[0].shape.hidden == 2
    assert entries[0].dimensions == ("sex", "age_band")
    assert entries[0].products == ("lpr.contacts",)
    assert entries[1].snapshot_id == "snap-18"
    assert all(e.timestamp.utcoffset() == UTC.utcoffset(None) for e in entries)
    assert entries[0].timestamp <= entries[1].timestamp
    raw = log.path.read_text().splitlines()
    assert len(raw) == 2
    assert json.loads(raw[0])["timestamp"].endswith("Z")
    assert entries[0].prev_hash == "" and entries[1].prev_hash != ""
    assert log.verify() == 2


def test_hidden_values_never_reach_the_log(var_dir: Path) -> None:
    # distinctive counts: primary 3, secondary 987 (the smallest other cell)
    counts = pl.DataFrame({"sex": ["F", "M", "X"], "count": [3, 987, 4321]})
    table = suppress(counts, ["sex"])
    assert table.cell("M").flag == "secondary"
    log = AuditLog(var_dir / "audit.jsonl")
    entry = log.record("res01", "cohort", "b" * 64, 5, ["sex"], table)

    assert entry.shape.model_dump() == {"cells": 4, "hidden": 2}
    stored = json.loads(log.path.read_text())
    assert set(stored) == set(entry.model_dump())  # nothing beyond the model's fields
    # random id and clock digits aside, neither hidden count appears anywhere
    rest = json.dumps({k: v for k, v in stored.items() if k not in {"entry_id", "timestamp"}})
    assert "987" not in rest and not any(n == 3 for n in _numbers(stored))
    numbers = _numbers(stored)
    assert sorted(numbers) == sorted([4, 2, 5, 5])  # cells, hidden, snapshot, threshold

    with pytest.raises(UserError, match="shape"):
        log.record("res01", "c", "h", 5, ["sex"], {"cells": 4, "hidden": 2, "values": [3]})
    with pytest.raises(TypeError):
        log.record("res01", "c", "h", 5, ["sex"], {"cells": 4, "hidden": 2}, counts=[3])  # type: ignore[call-arg]
    assert len(log.entries()) == 1


def _numbers(node: object) -> list[float]:
    if isinstance(node, bool):
        return []
    if isinstance(node, int | float):
        return [node]
    if isinstance(node, dict):
        return [n for v in node.values() for n in _numbers(v)]
    if isinstance(node, list):
        return [n for v in node for n in _numbers(v)]
    return []


def test_refuses_identifiers_and_bad_shapes(var_dir: Path) -> None:
    log = AuditLog(var_dir / "audit.jsonl")
    with pytest.raises(UserError, match="cohort_name") as err:
        record(log, cohort_name="patient 010190-1234")
    assert "010190" not in str(err.value)
    with pytest.raises(UserError, match="hidden"):
        record(log, shape={"cells": 2, "hidden": 3})
    with pytest.raises(UserError, match="user"):
        record(log, user="")
    assert not log.path.exists()  # a refused entry leaves no file behind


def test_tampering_is_detected(var_dir: Path) -> None:
    log = AuditLog(var_dir / "audit.jsonl")
    for i in range(3):
        record(log, user=f"res{i}")
    lines = log.path.read_text().splitlines()
    log.path.write_text("\n".join([lines[0].replace("res0", "res9"), *lines[1:]]) + "\n")
    with pytest.raises(UserError, match="line 2: hash chain broken"):
        log.verify()
    log.path.write_text("\n".join([lines[0], lines[2]]) + "\n")  # entry removed
    with pytest.raises(UserError, match="line 2"):
        log.verify()
    log.path.write_text("\n".join([lines[0], "{not json", lines[2]]) + "\n")
    with pytest.raises(UserError, match="line 2: not a valid audit entry"):
        log.entries()


def test_concurrent_appends_keep_every_entry_and_the_chain(var_dir: Path) -> None:
    path = var_dir / "audit.jsonl"

    def worker(n: int) -> None:
        log = AuditLog(path)
        for i in range(10):
            record(log, user=f"u{n}", snapshot_id=i)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    log = AuditLog(path)
    assert log.verify() == 40
    assert sorted((e.user, e.snapshot_id) for e in log.entries()) == sorted(
        (f"u{n}", i) for n in range(4) for i in range(10)
    )
