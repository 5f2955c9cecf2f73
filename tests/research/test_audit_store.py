"""The audit store: round trip, QueryHistory, and each kind of tampering caught by verify().

Every test runs against SQLite (embedded profile) and a real PostgreSQL database
(multi-user profile). Tampering is done the way an attacker with the database
owner's rights would: directly in the database, past the append-only triggers.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import sqlite3
import threading
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from regionlab.errors import UserError
from regionlab.research.audit_backends import PostgresBackend, SQLiteBackend
from regionlab.research.audit_store import FEASIBILITY, AuditStore
from regionlab.research.query_history import QueryHistory

PG_ADMIN = "dbname=postgres host=127.0.0.1 port=5432 user=postgres"

Tamper = Callable[[str, tuple[Any, ...]], None]


def _pg_database() -> Iterator[str]:
    import psycopg

    name = f"regionlab_audit_test_{uuid.uuid4().hex}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"dbname={name} host=127.0.0.1 port=5432 user=postgres"
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", "postgres"])
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def backend_and_tamper(kind: str, tmp_path: Path) -> Iterator[tuple[Any, Tamper]]:
    if kind == "sqlite":
        path = tmp_path / "service" / "audit.sqlite"

        def tamper_sqlite(sql: str, params: tuple[Any, ...] = ()) -> None:
            db = sqlite3.connect(path, isolation_level=None)
            db.execute("DROP TRIGGER IF EXISTS audit_no_update")
            db.execute("DROP TRIGGER IF EXISTS audit_no_delete")
            db.execute(sql, params)
            db.close()

        yield SQLiteBackend(path), tamper_sqlite
        return
    for conninfo in _pg_database():
        import psycopg

        def tamper_pg(sql: str, params: tuple[Any, ...] = (), conninfo: str = conninfo) -> None:
            with psycopg.connect(conninfo, autocommit=True) as db:
                db.execute("SET session_replication_role = replica")  # triggers off (superuser)
                db.execute(sql.replace("?", "%s"), params)

        yield PostgresBackend(conninfo), tamper_pg


def _store(backend: Any, tmp_path: Path, every: int = 100) -> AuditStore:
    return AuditStore(
        backend,
        mac_key_file=tmp_path / "secrets" / "audit-mac.key",
        signing_key_file=tmp_path / "secrets" / "audit-checkpoint.key",
        checkpoints_dir=tmp_path / "elsewhere" / "checkpoints",
        checkpoint_every=every,
    )


@pytest.fixture
def store(backend_and_tamper: tuple[Any, Tamper], tmp_path: Path) -> AuditStore:
    return _store(backend_and_tamper[0], tmp_path)


@pytest.fixture
def tamper(backend_and_tamper: tuple[Any, Tamper]) -> Tamper:
    return backend_and_tamper[1]


def _query(store: AuditStore, user: str = "forsker1", low: int = 50, total: Any = 14) -> str:
    return store.record_query(
        user=user,
        project="t2d-hba1c",
        definition={"age": {"min": low, "max": 70}, "index_date": "2026-11-01"},
        snapshot_id=7,
        dimensions=("sex",),
        answer={"total": total, "cells": {"K": 9, "M": "<5", "Total": total}},
        threshold=5,
        suppression={"rule": "primary+secondary", "cells": 3, "hidden": 1},
        products=("population/persons",),
    )


def _five(store: AuditStore) -> list[str]:
    return [_query(store, low=50 + i) for i in range(5)]


def _kinds(store: AuditStore) -> set[tuple[str, str]]:
    return {(p.entry, p.kind) for p in store.verify().problems}


def test_round_trip_and_history(store: AuditStore) -> None:
    first = _query(store, "forsker1", 50)
    store.record_event(
        user="olga", action="permit.approve", subject="t2d-hba1c", details={"reason": "ok"}
    )
    second = _query(store, "forsker2", 55, total="<5")
    entries = store.entries()
    assert [e.id for e in entries] == [first, entries[1].id, second]
    assert entries[0].data["definition"] == {
        "age": {"min": 50, "max": 70},
        "index_date": "2026-11-01",
    }
    assert entries[0].data["answer"] == {"total": 14, "cells": {"K": 9, "M": "<5", "Total": 14}}
    assert entries[0].at.tzinfo is not None and entries[0].at <= entries[2].at
    assert [e.id for e in store.entries(user="forsker2")] == [second]
    assert store.entries(since=datetime.now(UTC) + timedelta(minutes=1)) == []
    history: QueryHistory = store
    past = history.past_queries("forsker1", since=datetime.now(UTC) - timedelta(hours=1))
    assert len(past) == 1 and past[0].project == "t2d-hba1c" and past[0].snapshot_id == 7
    assert past[0].dimensions == ("sex",) and past[0].refused is None
    assert store.verify().ok and store.verify().entries == 3


def test_files_are_private_and_checkpoints_elsewhere(store: AuditStore, tmp_path: Path) -> None:
    _query(store)
    assert oct(store.mac_key_file.stat().st_mode & 0o777) == "0o600"
    assert oct(store.signing_key_file.stat().st_mode & 0o777) == "0o600"
    if isinstance(store.backend, SQLiteBackend):
        assert oct(store.backend.path.stat().st_mode & 0o777) == "0o600"
    latest = json.loads((store.checkpoints.path / "latest.json").read_text())
    assert latest["count"] == 1 and len(latest["signature"]) == 128
    assert (store.checkpoints.path / "signing.pub").is_file()


def test_a_hidden_count_or_an_identifier_is_refused(store: AuditStore) -> None:
    with pytest.raises(UserError, match="below the threshold"):
        _query(store, total=3)
    with pytest.raises(UserError, match="CPR"):
        store.record_event(user="olga", action="note", subject="0101901234", details={})
    assert store.entries() == []


def test_the_store_refuses_update_and_delete(store: AuditStore, kind: str) -> None:
    _query(store)
    if kind == "sqlite":
        db = sqlite3.connect(store.backend.path)
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):
            db.execute("DELETE FROM audit_entries")
        db.close()
    else:
        import psycopg

        with psycopg.connect(store.backend.conninfo) as db, pytest.raises(psycopg.Error):
            db.execute("UPDATE audit_entries SET who = 'x'")


def test_untouched_store_passes(store: AuditStore) -> None:
    _five(store)
    store.checkpoint()
    _query(store)
    report = store.verify()
    assert report.ok, report.problems
    assert report.entries == 7 and report.checkpoints == 2


def test_edited_field_is_reported(store: AuditStore, tamper: Tamper) -> None:
    ids = _five(store)
    row = store.entries()[2]
    data = dict(row.data, answer={"total": 15, "cells": {}})
    tamper("UPDATE audit_entries SET data = ? WHERE id = ?", (json.dumps(data), ids[2]))
    assert _kinds(store) == {(ids[2], "edited")}


def test_dropped_middle_entry_is_reported(store: AuditStore, tamper: Tamper) -> None:
    ids = _five(store)
    tamper("DELETE FROM audit_entries WHERE id = ?", (ids[2],))
    assert _kinds(store) == {(ids[3], "dropped")}


def test_dropped_trailing_entries_are_reported(store: AuditStore, tamper: Tamper) -> None:
    ids = _five(store)
    tamper("DELETE FROM audit_entries WHERE seq > 3", ())
    assert _kinds(store) == {(ids[4], "truncated")}


def test_reordered_entries_are_reported(store: AuditStore, tamper: Tamper) -> None:
    ids = _five(store)
    tamper("UPDATE audit_entries SET seq = -1 WHERE seq = 2", ())
    tamper("UPDATE audit_entries SET seq = 2 WHERE seq = 3", ())
    tamper("UPDATE audit_entries SET seq = 3 WHERE seq = -1", ())
    found = _kinds(store)
    assert {k for _, k in found} == {"reordered"}
    assert {e for e, _ in found} >= {ids[1], ids[2]}


def test_rechained_with_a_guessed_key_is_reported(store: AuditStore, tamper: Tamper) -> None:
    ids = _five(store)
    guessed = secrets.token_bytes(32)
    previous = ""
    for entry in store.backend.rows():  # the attacker recomputes every MAC, links intact
        mac = hmac.new(guessed, (previous + entry.digest).encode(), hashlib.sha256).hexdigest()
        tamper(
            "UPDATE audit_entries SET prev_mac = ?, mac = ? WHERE id = ?", (previous, mac, entry.id)
        )
        previous = mac
    found = _kinds(store)
    assert {(i, "rechained") for i in ids} <= found
    assert {k for _, k in found} <= {"rechained", "checkpoint-mismatch"}


def test_emptied_after_a_checkpoint_is_reported(store: AuditStore, tamper: Tamper) -> None:
    ids = _five(store)
    store.checkpoint()
    tamper("DELETE FROM audit_entries", ())
    found = _kinds(store)
    assert (ids[4], "emptied") in found
    assert {k for _, k in found} == {"emptied"}


def test_forged_checkpoint_is_reported(store: AuditStore) -> None:
    _five(store)
    latest = store.checkpoints.path / "latest.json"
    data = json.loads(latest.read_text())
    latest.write_text(json.dumps({**data, "count": 3}))  # hide the newest two entries
    assert _kinds(store) == {("latest.json", "checkpoint-signature")}


def test_removed_checkpoint_file_is_reported(store: AuditStore) -> None:
    _five(store)
    name = store.checkpoint()
    (store.checkpoints.path / name).unlink()
    assert {k for _, k in _kinds(store)} == {"checkpoint-missing"}


def test_periodic_checkpoints(backend_and_tamper: tuple[Any, Tamper], tmp_path: Path) -> None:
    store = _store(backend_and_tamper[0], tmp_path, every=3)
    _five(store)
    kept = sorted(p.name for p in store.checkpoints.path.glob("checkpoint-*.json"))
    assert kept == ["checkpoint-000000000003.json", "checkpoint-000000000006.json"]
    assert [e.action for e in store.entries()].count("audit.checkpoint") == 2
    assert len(store.entries(action=FEASIBILITY)) == 5
    assert store.verify().ok


def test_concurrent_writers_keep_one_chain(store: AuditStore) -> None:
    errors: list[BaseException] = []

    def writer(n: int) -> None:
        try:
            for i in range(8):
                _query(store, user=f"forsker{n}", low=i)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    rows = store.backend.rows()
    assert [r.seq for r in rows] == list(range(1, 33))
    assert len({r.prev_mac for r in rows}) == 32  # no two entries extend the same head
    assert store.verify().ok


def test_the_old_jsonl_log_is_migrated_once(var_dir: Path) -> None:
    from regionlab.research.audit_migrate import LEGACY_ACTION
    from regionlab.research.audit_store import open_store
    from regionlab.settings import get_settings

    legacy = get_settings().legacy_feasibility_log
    legacy.parent.mkdir(parents=True)
    first = {"entry_id": "e1", "user": "res01", "cohort_name": "c", "prev_hash": ""}
    line = json.dumps(first).encode()
    second = {"entry_id": "e2", "user": "res02", "prev_hash": hashlib.sha256(line).hexdigest()}
    legacy.write_bytes(line + b"\n" + json.dumps(second).encode() + b"\n")
    store = open_store()
    assert not legacy.exists()
    moved = store.entries(action=LEGACY_ACTION)
    assert [(e.user, e.subject) for e in moved] == [("res01", "e1"), ("res02", "e2")]
    assert store.entries(action="legacy.migrated")[0].data["details"] == {
        "entries": 2,
        "old_chain_held": True,
    }
    assert len(open_store().entries()) == 3  # a second open migrates nothing
    assert store.verify().ok


def test_the_profile_picks_backend_and_checkpoint_folder(
    var_dir: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from regionlab.research.audit_store import open_store

    embedded = open_store()
    assert isinstance(embedded.backend, SQLiteBackend)
    assert embedded.backend.path == var_dir / "service" / "audit.sqlite"
    assert embedded.checkpoints.path == var_dir / "service" / "checkpoints"
    monkeypatch.setenv("REGIONLAB_PROFILE", "multiuser")
    multi = open_store()
    assert isinstance(multi.backend, PostgresBackend)
    assert "dbname=regionlab_audit" in multi.backend.conninfo
    monkeypatch.setenv("REGIONLAB_AUDIT_CHECKPOINTS", str(tmp_path / "worm"))
    assert open_store().checkpoints.path == tmp_path / "worm"
    monkeypatch.setenv("REGIONLAB_AUDIT_STORE", "mysql:x")
    with pytest.raises(UserError, match="audit_store must be"):
        open_store()


def _process_writer(kind: str, where: str, root: str, n: int) -> None:
    backend = SQLiteBackend(Path(where)) if kind == "sqlite" else PostgresBackend(where)
    store = _store(backend, Path(root))
    for i in range(6):
        _query(store, user=f"proc{n}", low=i)


def test_concurrent_processes_keep_one_chain(store: AuditStore, kind: str, tmp_path: Path) -> None:
    import multiprocessing

    where = str(store.backend.path) if kind == "sqlite" else store.backend.conninfo
    _query(store)  # creates the keys first, as the running service would have
    ctx = multiprocessing.get_context("spawn")
    procs = [
        ctx.Process(target=_process_writer, args=(kind, where, str(tmp_path), n)) for n in range(3)
    ]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
    assert [p.exitcode for p in procs] == [0, 0, 0]
    rows = store.backend.rows()
    assert [r.seq for r in rows] == list(range(1, 20))
    assert store.verify().ok
    latest = json.loads((store.checkpoints.path / "latest.json").read_text())
    assert latest["count"] == 19  # the newest head, whichever writer finished last


def test_a_lost_key_is_not_silently_replaced(store: AuditStore) -> None:
    _query(store)
    store.mac_key_file.unlink()
    with pytest.raises(UserError, match="restore it from the service's backup"):
        _query(store)
    with pytest.raises(UserError, match="restore it from the service's backup"):
        store.verify()
    assert len(store.entries()) == 1
