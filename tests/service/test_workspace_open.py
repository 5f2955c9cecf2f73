"""Issue 19: the service hands a workspace's key only to its permit holder, audited.

The real app, real tokens, a real workspace built from the hand-built lake; the
last test opens the workspace through a service in its own process the way a
researcher's notebook does when it cannot read ``var/secrets`` (the multi-user
run with real OS accounts is ``test_workspace_open_multiuser.py``).
"""
# ruff: noqa: F811  (the fixtures lab and shared_lake are imported from the permit tests)

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import duckdb
import pytest
from fastapi.testclient import TestClient

from regionlab.errors import UserError
from regionlab.research import permit_workflow as wf
from regionlab.research.audit_store import open_store
from regionlab.research.workspace import (
    attach_granted,
    build_workspace,
    open_workspace,
    read_manifest,
    workspace_path,
)
from regionlab.research.workspace_crypto import key_file
from regionlab.research.workspace_grant import WORKSPACE_OPEN
from regionlab.research.workspace_sweep import sweep_workspaces
from regionlab.settings import get_settings
from service.app import builtin_verifier, create_app
from service.roles import Role
from service.tokens import TokenStore
from tests.research.test_permits_workspace import (  # noqa: F401  (fixtures)
    lab,
    permit_data,
    shared_lake,
)
from tests.service.live import start_server, stop_server

PROJECT = "ws-open"
EXPIRES = date.today() + timedelta(days=30)
Http = tuple[TestClient, dict[str, dict[str, str]], dict[str, str]]


@pytest.fixture
def http(lab: Path, var_dir: Path) -> Http:
    """anna holds the approved permit of ws-open and its workspace is built; bo is another
    researcher, cleo an output checker, olga the access officer."""
    store = TokenStore(var_dir / "service" / "identities.sqlite")
    roles = {"anna": Role.researcher, "bo": Role.researcher,
             "cleo": Role.output_checker, "olga": Role.access_officer}  # fmt: skip
    tokens = {name: store.issue(name, role) for name, role in roles.items()}
    headers = {name: {"Authorization": f"Bearer {t}"} for name, t in tokens.items()}
    client = TestClient(create_app([builtin_verifier(store)]))
    body = permit_data(PROJECT, expires=EXPIRES.isoformat())
    applied = client.post("/permits/applications", json=body, headers=headers["anna"])
    assert applied.is_success, applied.text
    approved = client.post(f"/permits/applications/{PROJECT}/approve", headers=headers["olga"])
    assert approved.is_success, approved.text
    build_workspace(PROJECT)
    return client, headers, tokens


def _expire_application() -> None:
    app = wf.get_application(PROJECT)
    permit = app.permit.model_copy(update={"expires": date.today() - timedelta(days=1)})
    path = wf.applications_dir() / f"{PROJECT}.json"
    path.write_text(app.model_copy(update={"permit": permit}).model_dump_json(), "utf-8")


def test_the_permit_holder_gets_a_locked_read_only_workspace(http: Http) -> None:
    client, h, _ = http
    got = client.post(f"/workspaces/{PROJECT}/open", headers=h["anna"])
    assert got.status_code == 200, got.text
    assert got.headers["cache-control"] == "no-store"
    grant = got.json()
    assert grant["key"] == key_file(PROJECT).read_text(encoding="utf-8").strip()
    assert Path(grant["path"]) == workspace_path(PROJECT)
    assert grant["expires"] == EXPIRES.isoformat()
    manifest = read_manifest(PROJECT)
    assert grant["tables"] == [p.table for p in manifest.products]

    con = attach_granted(grant)
    try:
        persons = con.execute("SELECT count(DISTINCT person_key) FROM population.persons")
        assert persons.fetchone()[0] == manifest.cohort_persons > 0
        labs = con.execute("SELECT count(*) FROM laboratory.lab_results").fetchone()[0]
        assert labs == next(p.rows for p in manifest.products if p.table.startswith("lab"))
        # As locked as the embedded open_workspace: no file outside, no switching back.
        secret = get_settings().secrets_dir / "pseudonym.key"
        for sql in (
            f"SELECT * FROM read_text('{secret}')",
            f"SELECT * FROM read_text('{key_file(PROJECT)}')",
            "SET enable_external_access = true",
            "DELETE FROM laboratory.lab_results",
        ):
            with pytest.raises(duckdb.Error):
                con.execute(sql)
    finally:
        con.close()

    entries = open_store().entries(action=WORKSPACE_OPEN)
    assert [(e.user, e.project) for e in entries] == [("anna", PROJECT)]
    assert entries[0].data["details"]["lake_snapshot"] == manifest.lake_snapshot
    # The audit trail names a fingerprint of the key, never the key.
    assert open_store().count_matches([grant["key"].encode()]) == 0


def test_no_key_without_the_projects_valid_permit(http: Http) -> None:
    client, h, _ = http
    other = client.post(f"/workspaces/{PROJECT}/open", headers=h["bo"])
    assert other.status_code == 403 and "bo does not hold its permit" in other.json()["detail"]
    assert "key" not in other.json()
    checker = client.post(f"/workspaces/{PROJECT}/open", headers=h["cleo"])
    assert checker.status_code == 403  # the role, before any permit check
    officer = client.post(f"/workspaces/{PROJECT}/open", headers=h["olga"])
    assert officer.status_code == 403
    unknown = client.post("/workspaces/no-such-project/open", headers=h["anna"])
    assert unknown.status_code == 404 and "no permit application" in unknown.json()["detail"]
    assert client.post(f"/workspaces/{PROJECT}/open").status_code == 401
    assert open_store().entries(action=WORKSPACE_OPEN) == []  # refusals hand nothing over

    _expire_application()
    expired = client.post(f"/workspaces/{PROJECT}/open", headers=h["anna"])
    assert expired.status_code == 403
    assert f"expired on {date.today() - timedelta(days=1)}" in expired.json()["detail"]


def test_after_the_sweep_the_endpoint_refuses_and_nothing_is_left(http: Http) -> None:
    client, h, _ = http
    assert client.post(f"/workspaces/{PROJECT}/open", headers=h["anna"]).status_code == 200
    _expire_application()
    receipts = sweep_workspaces(today=EXPIRES + timedelta(days=1))
    assert [r.project_id for r in receipts] == [PROJECT] and receipts[0].key_destroyed
    assert not key_file(PROJECT).exists() and not workspace_path(PROJECT).exists()
    refused = client.post(f"/workspaces/{PROJECT}/open", headers=h["anna"])
    assert refused.status_code == 403 and "expired" in refused.json()["detail"]


def test_a_workspace_gone_under_a_valid_permit_is_a_clear_409(http: Http) -> None:
    client, h, _ = http
    sweep_workspaces(today=EXPIRES + timedelta(days=1))  # the permit itself is still valid
    gone = client.post(f"/workspaces/{PROJECT}/open", headers=h["anna"])
    assert gone.status_code == 409 and "no workspace yet" in gone.json()["detail"]


def test_open_workspace_through_a_live_service(
    http: Http, var_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The notebook's call, when the key is not this process's to read: over HTTP."""
    _, _, tokens = http
    proc, url = start_server(var_dir)
    try:
        monkeypatch.setenv("REGIONLAB_SERVICE_URL", url)
        monkeypatch.setenv("REGIONLAB_TOKEN", tokens["anna"])
        con = open_workspace(PROJECT, via_service=True)
        try:
            assert con.execute("SELECT count(*) FROM population.persons").fetchone()[0] > 0
            with pytest.raises(duckdb.Error):
                con.execute("SET lock_configuration = false")
        finally:
            con.close()
        monkeypatch.setenv("REGIONLAB_TOKEN", tokens["bo"])
        with pytest.raises(UserError, match="bo does not hold its permit.*holder of the project"):
            open_workspace(PROJECT, via_service=True)
    finally:
        stop_server(proc)


def test_an_extension_application_does_not_lock_the_holder_out(http: Http) -> None:
    """The refusal message itself says: apply for an extension. While that application is
    pending (up to three months) or after it is refused, the registered permit is still
    valid and still the holder's: the workspace keeps opening for them, and only them."""
    client, h, _ = http
    later = (EXPIRES + timedelta(days=60)).isoformat()
    extension = client.post(
        "/permits/applications", json=permit_data(PROJECT, expires=later), headers=h["anna"]
    )
    assert extension.is_success, extension.text
    pending = client.post(f"/workspaces/{PROJECT}/open", headers=h["anna"])
    assert pending.status_code == 200, pending.text
    assert pending.json()["expires"] == EXPIRES.isoformat()  # the registered permit's
    assert client.post(f"/workspaces/{PROJECT}/open", headers=h["bo"]).status_code == 403
    refused = client.post(
        f"/permits/applications/{PROJECT}/refuse", json={"reason": "no"}, headers=h["olga"]
    )
    assert refused.is_success, refused.text
    assert client.post(f"/workspaces/{PROJECT}/open", headers=h["anna"]).status_code == 200


def test_another_researcher_cannot_take_over_a_held_permits_application(http: Http) -> None:
    """bo applying under anna's project id would replace the application the grant checks:
    anna locked out while it waits, and bo the applicant of her workspace's permit."""
    client, h, _ = http
    taken = client.post("/permits/applications", json=permit_data(PROJECT), headers=h["bo"])
    assert taken.status_code == 409 and "held by anna" in taken.json()["detail"]
    assert wf.get_application(PROJECT).applicant == "anna"
    assert client.post(f"/workspaces/{PROJECT}/open", headers=h["anna"]).status_code == 200


def test_a_stale_grant_is_a_clear_message_not_a_traceback(var_dir: Path, tmp_path: Path) -> None:
    """A grant kept from before the workspace was swept and rebuilt (a new key), or a file
    replaced since: the attach fails, and the researcher is told to open it again."""
    from regionlab.lake.extensions import duckdb_connect
    from regionlab.research.workspace_crypto import attach

    path = tmp_path / f"{PROJECT}.duckdb"
    con = duckdb_connect()
    attach(con, path, "a" * 64, "ws", read_only=False)
    con.execute("CREATE TABLE ws.t AS SELECT 1 AS x")
    con.close()
    stale = {"project_id": PROJECT, "path": str(path), "key": "b" * 64}
    with pytest.raises(UserError, match="open the workspace again") as raised:
        attach_granted(stale)
    assert "b" * 64 not in str(raised.value)
    plain = tmp_path / "plain.duckdb"
    duckdb.connect(str(plain)).close()
    with pytest.raises(UserError, match="open the workspace again"):
        attach_granted({**stale, "path": str(plain)})
