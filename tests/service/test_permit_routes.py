"""Permit routes: a researcher applies, only an access officer decides; all through real tokens."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from regionlab.research.audit_store import open_store
from regionlab.research.permits import load_permit, registered_path
from service.app import builtin_verifier, create_app
from service.roles import Role
from service.tokens import TokenStore

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def http(var_dir: Path) -> tuple[TestClient, dict[str, dict[str, str]]]:
    tokens = TokenStore(var_dir / "service" / "identities.sqlite")
    people = {"anna": Role.researcher, "bo": Role.researcher, "olga": Role.access_officer,
              "dora": Role.dpo}  # fmt: skip
    headers = {
        name: {"Authorization": f"Bearer {tokens.issue(name, role)}"}
        for name, role in people.items()
    }
    return TestClient(create_app([builtin_verifier(tokens)])), headers


def _body(project: str = "t2d-hba1c") -> dict:  # type: ignore[type-arg]
    return load_permit(REPO / "permits" / f"{project}.yaml").model_dump(mode="json")


def test_researcher_applies_and_cannot_approve(http) -> None:  # type: ignore[no-untyped-def]
    client, h = http
    applied = client.post("/permits/applications", json=_body(), headers=h["anna"])
    assert applied.status_code == 200, applied.text
    assert applied.json()["applicant"] == "anna"  # from the token, not the file
    assert applied.json()["status"] == "pending" and applied.json()["due_what"] == "decision"
    for who in ("anna", "bo", "dora"):
        denied = client.post("/permits/applications/t2d-hba1c/approve", headers=h[who])
        assert denied.status_code == 403, who
    refused = client.post(
        "/permits/applications/t2d-hba1c/refuse", json={"reason": "x"}, headers=h["anna"]
    )
    assert refused.status_code == 403
    assert not registered_path("t2d-hba1c").exists()
    assert client.post("/permits/applications", json=_body(), headers=h["olga"]).status_code == 403


def test_officer_approval_registers_and_refusal_does_not(http) -> None:  # type: ignore[no-untyped-def]
    client, h = http
    client.post("/permits/applications", json=_body(), headers=h["anna"])
    client.post("/permits/applications", json=_body("readmissions-vejle"), headers=h["bo"])
    ok = client.post("/permits/applications/t2d-hba1c/approve", headers=h["olga"])
    assert ok.status_code == 200 and ok.json()["decided_by"] == "olga"
    assert registered_path("t2d-hba1c").is_file()
    no = client.post(
        "/permits/applications/readmissions-vejle/refuse",
        json={"reason": "no legal basis stated"},
        headers=h["olga"],
    )
    assert no.status_code == 200 and no.json()["status"] == "refused"
    assert not registered_path("readmissions-vejle").exists()
    again = client.post("/permits/applications/t2d-hba1c/approve", headers=h["olga"])
    assert again.status_code == 409 and "not pending" in again.json()["detail"]
    own = client.get("/permits/applications", headers=h["anna"]).json()
    assert [a["project_id"] for a in own] == ["t2d-hba1c"]
    every = client.get("/permits/applications", headers=h["olga"]).json()
    assert {a["project_id"] for a in every} == {"t2d-hba1c", "readmissions-vejle"}
    assert client.get("/permits/applications", headers=h["dora"]).status_code == 403
    actions = [(e.user, e.action) for e in open_store().entries()]
    assert actions == [
        ("anna", "permit.apply"),
        ("bo", "permit.apply"),
        ("olga", "permit.approve"),
        ("olga", "permit.refuse"),
    ]


def test_replace_needs_the_officer_and_the_flag(http) -> None:  # type: ignore[no-untyped-def]
    client, h = http
    client.post("/permits/applications", json=_body(), headers=h["anna"])
    client.post("/permits/applications/t2d-hba1c/approve", headers=h["olga"])
    later = {**_body(), "expires": "2031-12-31"}
    assert client.post("/permits/applications", json=later, headers=h["anna"]).status_code == 200
    no_flag = client.post("/permits/applications/t2d-hba1c/approve", headers=h["olga"])
    assert no_flag.status_code == 409 and "--replace" in no_flag.json()["detail"]
    by_researcher = client.post(
        "/permits/applications/t2d-hba1c/approve?replace=true", headers=h["anna"]
    )
    assert by_researcher.status_code == 403
    assert "2030-12-31" in registered_path("t2d-hba1c").read_text()
    done = client.post("/permits/applications/t2d-hba1c/approve?replace=true", headers=h["olga"])
    assert done.status_code == 200
    assert "2031-12-31" in registered_path("t2d-hba1c").read_text()


def test_over_real_http_a_researcher_cannot_approve(var_dir: Path) -> None:
    """The same separation through a real uvicorn server on 127.0.0.1 and an HTTP client."""
    import socket
    import threading
    import time

    import httpx
    import uvicorn

    tokens = TokenStore(var_dir / "service" / "identities.sqlite")
    anna = {"Authorization": f"Bearer {tokens.issue('anna', Role.researcher)}"}
    olga = {"Authorization": f"Bearer {tokens.issue('olga', Role.access_officer)}"}
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(
            create_app([builtin_verifier(tokens)]), host="127.0.0.1", port=port, log_level="error"
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 30
        while not server.started and time.monotonic() < deadline:
            time.sleep(0.05)
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as web:
            assert web.post("/permits/applications", json=_body(), headers=anna).status_code == 200
            denied = web.post("/permits/applications/t2d-hba1c/approve", headers=anna)
            assert denied.status_code == 403 and "access-officer" in denied.json()["detail"]
            assert not registered_path("t2d-hba1c").exists()
            assert web.get("/audit/verify", headers=anna).status_code == 403
            ok = web.post("/permits/applications/t2d-hba1c/approve", headers=olga)
            assert ok.status_code == 200 and registered_path("t2d-hba1c").is_file()
            report = web.get("/audit/verify", headers=olga).json()
            assert report["problems"] == [] and report["entries"] == 2
    finally:
        server.should_exit = True
        thread.join(30)
