"""Fixtures of the access service's tests: a lake with known answers, tokens, a live server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from service.app import builtin_verifier, create_app
from service.roles import Role
from service.settings import load_service_settings
from service.tokens import TokenStore
from tests.research.handbuilt import build_population_lake, population_expected
from tests.service.live import start_server, stop_server


@pytest.fixture
def population(var_dir: Path) -> list[dict[str, object]]:
    """400 persons with known strata (see tests/research/handbuilt.py)."""
    build_population_lake()
    return population_expected()


@pytest.fixture
def store(var_dir: Path) -> TokenStore:
    """The service's own token store under this test's var/."""
    return TokenStore(var_dir / "service" / "identities.sqlite")


@pytest.fixture
def tokens(store: TokenStore) -> dict[Role, str]:
    """One token per role, named after the role (``anna`` is the researcher)."""
    names = {Role.researcher: "anna"}
    return {role: store.issue(names.get(role, f"u-{role.value}"), role) for role in Role}


def client_for(store: TokenStore):  # type: ignore[no-untyped-def]
    from fastapi.testclient import TestClient

    return TestClient(create_app([builtin_verifier(store)], load_service_settings()))


@pytest.fixture
def live(var_dir: Path) -> Iterator[str]:
    """The service in its own process on a free port, serving this test's var/."""
    proc, url = start_server(var_dir)
    try:
        yield url
    finally:
        stop_server(proc)
