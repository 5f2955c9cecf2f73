"""OIDC access tokens from the region's identity provider, checked against its JWKS.

In the multi-user profile people log in at the region's identity provider
(Entra ID, Keycloak, ...), which issues signed JWT access tokens. The service
accepts one when its signature verifies with a key from the provider's JWKS
(fetched and cached by PyJWT, refreshed when a new key id appears; a
``file://`` URL reads a JWKS file the operator keeps current), and its
``iss``, ``aud`` and ``exp`` are right. The person's name is the
``preferred_username`` claim (else ``sub``); the regionlab role comes from one
claim (``role_claim``, default ``regionlab_role``: a string or a list holding
exactly one regionlab role). A token with no role, or several, is refused: one
token stands for one role, so the role matrix means what it says.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

import jwt

from service.identity import Identity
from service.roles import Role
from service.settings import OidcSettings

log = logging.getLogger(__name__)


def _looks_like_jwt(token: str) -> bool:
    return token.count(".") == 2 and not token.startswith("rl_")


class _FileJwks:
    """A JWKS kept in a file (PyJWT's client fetches http(s) only); re-read when it changes."""

    def __init__(self, url: str) -> None:
        self.path = Path(unquote(urlparse(url).path))
        self._stamp: float | None = None
        self._set: jwt.PyJWKSet | None = None

    def get_signing_key_from_jwt(self, token: str) -> jwt.PyJWK:
        kid = jwt.get_unverified_header(token).get("kid")
        try:
            stamp = self.path.stat().st_mtime
            if self._set is None or stamp != self._stamp:
                self._set = jwt.PyJWKSet.from_dict(json.loads(self.path.read_text("utf-8")))
                self._stamp = stamp
        except (OSError, ValueError) as exc:
            raise jwt.PyJWKClientConnectionError(f"cannot read {self.path}: {exc}") from exc
        for key in self._set.keys:
            if key.key_id == kid:
                return key
        raise jwt.PyJWKClientError(f"no key with kid {kid!r} in {self.path}")


class OidcVerifier:
    """A verifier (token → :class:`Identity` or ``None``) for one identity provider."""

    def __init__(self, settings: OidcSettings) -> None:
        if not settings.enabled:
            raise ValueError("OIDC needs issuer, audience and jwks_url in the service settings")
        self.settings = settings
        self._jwks: jwt.PyJWKClient | _FileJwks = (
            _FileJwks(settings.jwks_url)
            if settings.jwks_url.startswith("file:")
            else jwt.PyJWKClient(settings.jwks_url, cache_keys=True, lifespan=600, timeout=10)
        )

    def claims(self, token: str) -> dict[str, Any]:
        """The verified claims; raises :class:`jwt.PyJWTError` when anything is wrong."""
        key = self._jwks.get_signing_key_from_jwt(token)
        return jwt.decode(
            token,
            key.key,
            algorithms=list(self.settings.algorithms),
            audience=self.settings.audience,
            issuer=self.settings.issuer,
            leeway=self.settings.leeway_seconds,
            options={"require": ["exp", "iss", "aud"]},
        )

    def role_of(self, claims: dict[str, Any]) -> Role | None:
        raw = claims.get(self.settings.role_claim)
        values = [raw] if isinstance(raw, str) else list(raw) if isinstance(raw, list) else []
        roles = {Role(v) for v in values if v in Role._value2member_map_}
        return roles.pop() if len(roles) == 1 else None

    def __call__(self, token: str) -> Identity | None:
        if not _looks_like_jwt(token):
            return None
        try:
            claims = self.claims(token)
        except jwt.PyJWKClientConnectionError as exc:
            log.warning("OIDC: cannot fetch the JWKS: %s", exc)
            return None
        except jwt.PyJWTError as exc:
            log.info("OIDC: token refused: %s", type(exc).__name__)
            return None
        name = str(claims.get("preferred_username") or claims.get("sub") or "").strip()
        role = self.role_of(claims)
        if not name or role is None:
            log.info("OIDC: token refused: no name or not exactly one regionlab role")
            return None
        return Identity(name, role, "oidc")


__all__ = ["OidcVerifier"]
