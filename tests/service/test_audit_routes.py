"""Audit routes and `regionlab audit`: who may read and verify, and what verify reports."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from regionlab.research.audit_store import AuditStore, open_store
from service.app import builtin_verifier, create_app
from service.roles import Role
from service.routes.audit import audit_store
from service.tokens import TokenStore


def _query(store: AuditStore, user: str, low: int) -> str:
    return store.record_query(
        user=user,
        project=None,
        definition={"age": {"min": low, "max": 70}},
        snapshot_id=1,
        dimensions=(),
        answer={"total": "<5", "cells": {}},
        threshold=5,
        suppression={"rule": "primary+secondary", "cells": 1, "hidden": 1},
        products=("population/persons",),
    )


@pytest.fixture
def store(var_dir: Path) -> AuditStore:
    return open_store()


@pytest.fixture
def client(store: AuditStore, var_dir: Path) -> tuple[TestClient, dict[Role, dict[str, str]]]:
    tokens = TokenStore(var_dir / "service" / "identities.sqlite")
    app = create_app([builtin_verifier(tokens)])
    app.dependency_overrides[audit_store] = lambda: store
    headers = {role: {"Authorization": f"Bearer {tokens.issue(role.value, role)}"} for role in Role}
    return TestClient(app), headers


@pytest.mark.parametrize("path", ["/audit/verify", "/audit/entries"])
def test_only_access_officer_and_dpo_read_the_audit(client, path: str) -> None:  # type: ignore[no-untyped-def]
    http, headers = client
    for role in Role:
        code = http.get(path, headers=headers[role]).status_code
        assert code == (200 if role in (Role.access_officer, Role.dpo) else 403), role
    assert http.get(path).status_code == 401
    assert http.post("/audit/checkpoint", headers=headers[Role.researcher]).status_code == 403


def test_officer_reviews_a_user_and_dpo_sees_tampering(client, store: AuditStore) -> None:  # type: ignore[no-untyped-def]
    http, headers = client
    first = _query(store, "forsker1", 50)
    _query(store, "forsker2", 50)
    third = _query(store, "forsker1", 55)
    seen = http.get(
        "/audit/entries", params={"user": "forsker1"}, headers=headers[Role.access_officer]
    ).json()
    assert [e["id"] for e in seen] == [first, third]
    assert seen[1]["data"]["definition"] == {"age": {"min": 55, "max": 70}}
    assert http.get("/audit/verify", headers=headers[Role.dpo]).json()["problems"] == []

    assert isinstance(store.backend.path, Path)
    db = sqlite3.connect(store.backend.path, isolation_level=None)
    db.execute("DROP TRIGGER audit_no_update")
    db.execute("UPDATE audit_entries SET who = 'someone-else' WHERE id = ?", (first,))
    db.close()
    problems = http.get("/audit/verify", headers=headers[Role.dpo]).json()["problems"]
    assert [(p["entry"], p["kind"]) for p in problems] == [(first, "edited")]
    written = http.post("/audit/checkpoint", headers=headers[Role.dpo]).json()["file"]
    assert (store.checkpoints.path / written).is_file()


def test_cli_verify_exits_1_and_names_entry_and_kind(store: AuditStore) -> None:
    from cli import _register, app

    _register()
    ids = [_query(store, "forsker1", low) for low in (50, 55, 60)]
    runner = CliRunner()
    ok = runner.invoke(app, ["audit", "verify"])
    assert ok.exit_code == 0, ok.output
    assert "ok: 3 entries" in ok.output
    db = sqlite3.connect(store.backend.path, isolation_level=None)
    db.execute("DROP TRIGGER audit_no_delete")
    db.execute("DELETE FROM audit_entries WHERE id = ?", (ids[1],))
    db.close()
    bad = runner.invoke(app, ["audit", "verify"])
    assert bad.exit_code == 1
    assert bad.output.splitlines()[0].startswith(f"{ids[2]} dropped")
    shown = runner.invoke(app, ["audit", "show", "--user", "forsker1"])
    assert shown.exit_code == 0, shown.output
    assert "age.min 50→60" in shown.output  # the dropped query's change is folded into the next
