"""The role matrix, endpoint by endpoint: each role gets 403 exactly where docs/access.md says.

The endpoints are read from the app, so a route another module adds later is
called here too; the docs must be regenerated (``regionlab serve --write-docs``)
or the staleness tests fail.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from service.app import builtin_verifier, create_app
from service.matrix import (
    ACCESS_DOC,
    OPENAPI_DOC,
    PUBLIC,
    access_markdown,
    docs_app,
    endpoints,
    openapi_json,
)
from service.roles import ALL_ROLES, Role
from service.settings import ServiceSettings
from service.tokens import TokenStore

REPO = Path(__file__).resolve().parents[2]


def test_every_endpoint_declares_its_roles_or_is_listed_public() -> None:
    found = endpoints(docs_app())
    assert found, "no endpoints found: the route walk is broken"
    assert {e.key for e in found if e.roles is None} == set(PUBLIC)
    assert all(e.roles for e in found if e.roles is not None), "a route admits no role at all"
    assert "POST /feasibility" in {e.key for e in found}


def test_the_access_doc_is_current() -> None:
    current = (REPO / ACCESS_DOC).read_text(encoding="utf-8")
    assert current == access_markdown(docs_app()), "run: regionlab serve --write-docs"


def test_the_openapi_description_is_current() -> None:
    current = (REPO / OPENAPI_DOC).read_text(encoding="utf-8")
    assert current == openapi_json(docs_app()), "run: regionlab serve --write-docs"
    paths = json.loads(current)["paths"]
    assert {f"{m.upper()} {p}" for p, ops in paths.items() for m in ops} == {
        e.key for e in endpoints(docs_app())
    }


def _call_path(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "x", path)


def test_each_role_gets_403_exactly_where_the_matrix_says(var_dir: Path) -> None:
    store = TokenStore(var_dir / "service" / "identities.sqlite")
    tokens = {role: store.issue(f"u-{role.value}", role) for role in ALL_ROLES}
    app = create_app([builtin_verifier(store)], ServiceSettings())
    client = TestClient(app, raise_server_exceptions=False)
    doc = (REPO / ACCESS_DOC).read_text(encoding="utf-8")
    checked = 0
    for endpoint in endpoints(app):
        path = _call_path(endpoint.path)
        row = next(line for line in doc.splitlines() if line.startswith(f"| `{endpoint.key}` |"))
        marks = [m.strip() for m in row.split("|")[2 : 2 + len(ALL_ROLES)]]
        if endpoint.roles is None:
            response = client.request(endpoint.method, path)
            assert response.status_code not in (401, 403), endpoint.key
            continue
        anonymous = client.request(endpoint.method, path)
        assert anonymous.status_code == 401, endpoint.key
        for role, mark in zip(ALL_ROLES, marks, strict=True):
            response = client.request(
                endpoint.method, path, headers={"Authorization": f"Bearer {tokens[role]}"}
            )
            allowed = role in endpoint.roles
            assert mark == ("✓" if allowed else "—"), (endpoint.key, role)
            if allowed:
                assert response.status_code not in (401, 403), (endpoint.key, role)
            else:
                assert response.status_code == 403, (endpoint.key, role, response.status_code)
                assert role.value in response.json()["detail"]
            checked += 1
    assert checked >= 2 * len(ALL_ROLES)


@pytest.mark.parametrize("role", [Role.strategy, Role.labeller, Role.output_checker])
def test_roles_without_counts_never_reach_the_lake(var_dir: Path, role: Role) -> None:
    """A 403 comes before the body is even read: no lake, no audit entry."""
    store = TokenStore(var_dir / "service" / "identities.sqlite")
    client = TestClient(create_app([builtin_verifier(store)], ServiceSettings()))
    response = client.post(
        "/feasibility",
        json={"cohort": {"name": "all"}},
        headers={"Authorization": f"Bearer {store.issue('x', role)}"},
    )
    assert response.status_code == 403
    assert not (var_dir / "research").exists() and not (var_dir / "lake").exists()


def test_the_airlock_separates_submitting_from_deciding() -> None:
    """Researchers submit, output checkers decide; no other role touches an output."""
    roles = {e.key: e.roles for e in endpoints(docs_app()) if e.path.startswith("/outputs")}
    both = {Role.researcher, Role.output_checker}
    assert roles == {
        "POST /outputs": {Role.researcher},
        "GET /outputs": both,
        "POST /outputs/{submission_id}/approve": {Role.output_checker},
        "POST /outputs/{submission_id}/refuse": {Role.output_checker},
        "GET /outputs/{submission_id}/submitted": {Role.output_checker},
        "GET /outputs/{submission_id}/released": both,
    }
