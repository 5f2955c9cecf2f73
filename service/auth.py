"""Bearer-token authentication and the per-endpoint role declaration.

Every route names the roles it admits with ``Depends(allow(...))``; the role
matrix in the docs is generated from those declarations and a test calls each
endpoint with each role. The caller's name always comes from the verified
token, never from a header, a body field or an environment variable.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from service.identity import Identity
from service.roles import Role

_bearer = HTTPBearer(auto_error=False, description="A regionlab token or an OIDC access token.")

#: Marker attribute the role matrix reads from each route's dependency.
ROLES_ATTR = "regionlab_roles"


def authenticate(request: Request, token: str) -> Identity | None:
    """Resolve a bearer token with the app's verifiers (built-in issuer first, then OIDC)."""
    for verify in request.app.state.verifiers:
        identity = verify(token)
        if identity is not None:
            return identity
    return None


def _caller(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Identity:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "a bearer token is required; see regionlab users add / regionlab login",
            headers={"WWW-Authenticate": "Bearer"},
        )
    identity = authenticate(request, credentials.credentials)
    if identity is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "the token is unknown, revoked or expired",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return identity


def allow(*roles: Role) -> Callable[..., Identity]:
    """A dependency admitting only ``roles``; the others get 403 naming the roles needed.

    Use it as ``who: Annotated[Identity, Depends(allow(Role.researcher))]``.
    """
    admitted = frozenset(roles)

    def dependency(identity: Annotated[Identity, Depends(_caller)]) -> Identity:
        if identity.role not in admitted:
            needed = ", ".join(sorted(r.value for r in admitted))
            raise HTTPException(
                status.HTTP_403_FORBIDDEN, f"role {identity.role.value} may not do this ({needed})"
            )
        return identity

    setattr(dependency, ROLES_ATTR, admitted)
    return dependency


__all__ = ["ROLES_ATTR", "allow", "authenticate"]
