"""The FastAPI application of the access service.

``create_app`` is the only place routers are mounted and verifiers chosen, so
the OpenAPI description and the role matrix are both read from one object.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from fastapi import FastAPI

from regionlab.config import current
from service.identity import Identity
from service.routes import ROUTERS
from service.tokens import TokenStore

Verifier = Callable[[str], Identity | None]


def builtin_verifier(store: TokenStore) -> Verifier:
    """Tokens of the built-in issuer (``regionlab users add``)."""

    def verify(token: str) -> Identity | None:
        user = store.lookup(token)
        return None if user is None else Identity(user.name, user.role, "builtin")

    return verify


def token_store() -> TokenStore:
    return TokenStore(current().settings.service_dir / "identities.sqlite")


def create_app(verifiers: Sequence[Verifier] | None = None) -> FastAPI:
    """The service with every router mounted; ``verifiers`` default to the built-in issuer."""
    app = FastAPI(
        title="regionlab access service",
        summary="The one process that touches the lake, the key and the audit store.",
        version="1",
    )
    app.state.verifiers = list(verifiers or [builtin_verifier(token_store())])
    for router in ROUTERS:
        app.include_router(router)
    return app


__all__ = ["Verifier", "builtin_verifier", "create_app", "token_store"]
