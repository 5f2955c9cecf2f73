"""The built-in issuer and the per-endpoint role check, through the real app."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import pytest
from fastapi import APIRouter, Depends
from fastapi.testclient import TestClient

from service.app import builtin_verifier, create_app
from service.auth import allow
from service.identity import Identity
from service.roles import Role
from service.tokens import TokenStore


@pytest.fixture()
def store(tmp_path: Path) -> TokenStore:
    return TokenStore(tmp_path / "service" / "identities.sqlite")


def _client(store: TokenStore) -> TestClient:
    app = create_app([builtin_verifier(store)])
    officers = APIRouter()

    @officers.get("/only-officers")
    def only(who: Annotated[Identity, Depends(allow(Role.access_officer))]) -> dict[str, str]:
        return {"name": who.name}

    app.include_router(officers)
    return TestClient(app)


def test_a_token_is_stored_hashed_and_names_its_user(store: TokenStore) -> None:
    token = store.issue("anna", Role.researcher)
    assert token not in store.path.read_bytes().decode("latin-1")
    assert oct(store.path.stat().st_mode & 0o777) == "0o600"
    response = _client(store).get("/whoami", headers={"Authorization": f"Bearer {token}"})
    assert response.json() == {"name": "anna", "role": "researcher", "issuer": "builtin"}


def test_no_token_unknown_token_and_revoked_token_get_401(store: TokenStore) -> None:
    client = _client(store)
    token = store.issue("anna", Role.researcher)
    assert client.get("/whoami").status_code == 401
    assert client.get("/whoami", headers={"Authorization": "Bearer rl_nope"}).status_code == 401
    store.revoke("anna")
    assert client.get("/whoami", headers={"Authorization": f"Bearer {token}"}).status_code == 401


def test_reissuing_a_token_stops_the_old_one(store: TokenStore) -> None:
    client = _client(store)
    old = store.issue("anna", Role.researcher)
    new = store.issue("anna", Role.researcher, replace=True)
    assert client.get("/whoami", headers={"Authorization": f"Bearer {old}"}).status_code == 401
    assert client.get("/whoami", headers={"Authorization": f"Bearer {new}"}).status_code == 200


def test_a_role_not_admitted_gets_403(store: TokenStore) -> None:
    client = _client(store)
    researcher = store.issue("anna", Role.researcher)
    officer = store.issue("olga", Role.access_officer)
    denied = client.get("/only-officers", headers={"Authorization": f"Bearer {researcher}"})
    assert denied.status_code == 403
    assert "access-officer" in denied.json()["detail"]
    allowed = client.get("/only-officers", headers={"Authorization": f"Bearer {officer}"})
    assert allowed.json() == {"name": "olga"}
