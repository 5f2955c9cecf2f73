"""OIDC access tokens: RS256 keys and a JWKS this test creates, served on 127.0.0.1."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi.testclient import TestClient

from service.app import create_app
from service.oidc import OidcVerifier
from service.roles import Role
from service.settings import OidcSettings, load_service_settings

ISSUER = "https://login.region.test/realms/regionlab"
AUDIENCE = "regionlab-service"


class Provider:
    """An identity provider: signing keys, their JWKS on a local HTTP server, tokens."""

    def __init__(self) -> None:
        self.keys: dict[str, rsa.RSAPrivateKey] = {}
        self.requests = 0
        self.add_key("k1")

    def add_key(self, kid: str) -> None:
        self.keys[kid] = rsa.generate_private_key(public_exponent=65537, key_size=2048)

    def jwks(self) -> dict[str, Any]:
        out = []
        for kid, key in self.keys.items():
            jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
            out.append({**jwk, "kid": kid, "use": "sig", "alg": "RS256"})
        return {"keys": out}

    def token(self, kid: str = "k1", key: rsa.RSAPrivateKey | None = None, **claims: Any) -> str:
        now = int(time.time())
        body = {
            "iss": ISSUER,
            "aud": AUDIENCE,
            "sub": "f3b0c6e2-uuid",
            "preferred_username": "anna.jensen",
            "regionlab_role": "researcher",
            "iat": now,
            "exp": now + 300,
            **claims,
        }
        body = {k: v for k, v in body.items() if v is not None}
        return jwt.encode(body, key or self.keys[kid], algorithm="RS256", headers={"kid": kid})


@pytest.fixture
def provider() -> Iterator[tuple[Provider, str]]:
    idp = Provider()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            idp.requests += 1
            data = json.dumps(idp.jwks()).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield idp, f"http://127.0.0.1:{server.server_address[1]}/jwks"
    finally:
        server.shutdown()
        server.server_close()


def _settings(jwks_url: str) -> OidcSettings:
    return OidcSettings(issuer=ISSUER, audience=AUDIENCE, jwks_url=jwks_url)


def _whoami(client: TestClient, token: str) -> Any:
    return client.get("/whoami", headers={"Authorization": f"Bearer {token}"})


@pytest.fixture
def client(var_dir: Path, provider: tuple[Provider, str]) -> TestClient:
    """The app as ``regionlab serve`` builds it, OIDC configured in the service's own file."""
    _, url = provider
    (var_dir / "service").mkdir()
    (var_dir / "service" / "settings.toml").write_text(
        f'[oidc]\nissuer = "{ISSUER}"\naudience = "{AUDIENCE}"\njwks_url = "{url}"\n',
        encoding="utf-8",
    )
    assert load_service_settings().oidc.enabled
    return TestClient(create_app())


def test_a_valid_token_names_its_user_and_role(
    client: TestClient, provider: tuple[Provider, str]
) -> None:
    idp, _ = provider
    response = _whoami(client, idp.token())
    assert response.json() == {"name": "anna.jensen", "role": "researcher", "issuer": "oidc"}
    no_username = _whoami(client, idp.token(preferred_username=None, regionlab_role=["steward"]))
    assert no_username.json() == {"name": "f3b0c6e2-uuid", "role": "steward", "issuer": "oidc"}


@pytest.mark.parametrize(
    "claims",
    [
        {"exp": int(time.time()) - 3600},
        {"aud": "another-service"},
        {"iss": "https://evil.test/"},
        {"exp": None},
        {"regionlab_role": None},
        {"regionlab_role": "superuser"},
        {"regionlab_role": ["researcher", "access-officer"]},
    ],
    ids=["expired", "audience", "issuer", "no-exp", "no-role", "unknown-role", "two-roles"],
)
def test_a_wrong_token_gets_401(
    client: TestClient, provider: tuple[Provider, str], claims: dict[str, Any]
) -> None:
    idp, _ = provider
    response = _whoami(client, idp.token(**claims))
    assert response.status_code == 401


def test_a_token_signed_by_another_key_or_unsigned_gets_401(
    client: TestClient, provider: tuple[Provider, str]
) -> None:
    idp, _ = provider
    forged = idp.token(key=rsa.generate_private_key(public_exponent=65537, key_size=2048))
    assert _whoami(client, forged).status_code == 401
    header = jwt.utils.base64url_encode(json.dumps({"alg": "none", "kid": "k1"}).encode())
    payload = jwt.utils.base64url_decode(idp.token().split(".")[1])
    unsigned = f"{header.decode()}.{jwt.utils.base64url_encode(payload).decode()}."
    assert _whoami(client, unsigned).status_code == 401
    hs = jwt.encode({"iss": ISSUER, "aud": AUDIENCE, "exp": int(time.time()) + 60}, "k" * 32,
                    algorithm="HS256", headers={"kid": "k1"})  # fmt: skip
    assert _whoami(client, hs).status_code == 401


def test_the_role_from_the_token_is_what_the_endpoint_checks(
    client: TestClient, provider: tuple[Provider, str]
) -> None:
    idp, _ = provider
    steward = idp.token(regionlab_role="steward")
    response = client.post(
        "/feasibility",
        json={"cohort": {"name": "x"}},
        headers={"Authorization": f"Bearer {steward}"},
    )
    assert response.status_code == 403


def test_a_rotated_key_is_fetched_and_file_urls_work(
    provider: tuple[Provider, str], tmp_path: Path
) -> None:
    idp, url = provider
    verify = OidcVerifier(_settings(url))
    assert verify(idp.token()) is not None
    idp.add_key("k2")
    who = verify(idp.token(kid="k2", preferred_username="bo"))
    assert who is not None and who.name == "bo" and who.role is Role.researcher
    assert idp.requests == 2
    jwks = tmp_path / "jwks.json"
    jwks.write_text(json.dumps(idp.jwks()), encoding="utf-8")
    from_file = OidcVerifier(_settings(jwks.as_uri()))
    assert from_file(idp.token(kid="k2")) is not None
    assert from_file("rl_builtin-token") is None
