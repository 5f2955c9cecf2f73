"""The FastAPI application of the access service.

``create_app`` is the only place routers are mounted and verifiers chosen, so
the OpenAPI description and the role matrix are both read from one object.
``serve_app`` and ``embedded_app`` are the factories uvicorn starts
(``--factory``): the first for ``regionlab serve``, the second for the service a
client starts on demand in the embedded profile, which stops itself after
``idle_seconds`` without a request.

Besides the API, the built catalogue site is mounted at ``/site/`` (see
:mod:`service.site`): static metadata that needs no token, whose feasibility
form calls ``POST /feasibility`` on the same origin with the researcher's token.
"""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from regionlab.config import current
from regionlab.errors import UserError
from service.identity import Identity
from service.lake_pool import LakePool
from service.routes import ROUTERS
from service.settings import ServiceSettings, load_service_settings
from service.site import mount_site
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


def default_verifiers(settings: ServiceSettings) -> list[Verifier]:
    """The built-in issuer, then the region's OIDC provider when configured."""
    verifiers: list[Verifier] = [builtin_verifier(token_store())]
    if settings.oidc.enabled:
        from service.oidc import OidcVerifier

        verifiers.append(OidcVerifier(settings.oidc))
    return verifiers


async def _user_error(request: Request, exc: Exception) -> JSONResponse:
    """A :class:`UserError` (bad cohort, threshold below the floor, no lake) is the client's
    to fix: 422 with the message, which by the project's rule names no source value."""
    return JSONResponse(status_code=422, content={"detail": str(exc)})


def create_app(
    verifiers: Sequence[Verifier] | None = None, settings: ServiceSettings | None = None
) -> FastAPI:
    """The service with every router mounted; ``verifiers`` default to the configured ones."""
    settings = settings or load_service_settings()
    return _build(settings, list(verifiers or default_verifiers(settings)))


def _build(
    settings: ServiceSettings, verifiers: list[Verifier], lifespan: Callable | None = None
) -> FastAPI:
    app = FastAPI(
        title="regionlab access service",
        summary="The one process that touches the lake, the key and the audit store.",
        version="1",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.verifiers = verifiers
    app.state.lake = LakePool(copy=settings.copy_lake, salt=lambda: _noise_salt(settings))
    app.add_exception_handler(UserError, _user_error)
    for router in ROUTERS:
        app.include_router(router)
    mount_site(app)
    return app


def _noise_salt(settings: ServiceSettings) -> str | None:
    """The salt of the defence's person hashes, when the defence perturbs counts."""
    policy = settings.disclosure
    if not policy.enabled or not policy.perturbs:
        return None
    from regionlab.research.disclosure import person_salt, server_secret

    return person_salt(server_secret())


def _preload() -> None:
    """Import what the first guarded answers would otherwise import mid-request.

    The defence matches criteria with SciPy's assignment solver, imported lazily
    (the CLI never needs it); in the service the first near-identical query would
    pay that import (about 1 s, more under load) while holding its account's lock.
    """

    def load() -> None:
        import scipy.optimize  # noqa: F401

    threading.Thread(target=load, name="preload", daemon=True).start()


def serve_app() -> FastAPI:
    """``regionlab serve``: settings and verifiers from the server's own configuration.

    Starts copying the newest lake snapshot into memory at once (in the
    background), so the first researchers already read the copy.
    """
    app = create_app()
    app.state.lake.warm()
    _preload()
    return app


def embedded_app() -> FastAPI:
    """The on-demand service of the embedded profile: stops after ``idle_seconds`` idle,
    and removes the runtime file the client wrote for it (when it is still its own)."""
    settings = load_service_settings()
    last = [time.monotonic()]

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        stop = threading.Event()
        if settings.idle_seconds:
            threading.Thread(
                target=_idle_watch, args=(last, settings.idle_seconds, stop), daemon=True
            ).start()
        yield
        stop.set()
        _forget_runtime()

    app = _build(settings, default_verifiers(settings), lifespan)
    app.state.lake.warm()
    _preload()

    @app.middleware("http")
    async def _touch(request: Request, call_next):  # type: ignore[no-untyped-def]
        last[0] = time.monotonic()
        return await call_next(request)

    return app


def _forget_runtime() -> None:
    from regionlab.research.client import runtime_path

    path = runtime_path()
    try:
        if json.loads(path.read_text(encoding="utf-8")).get("pid") == os.getpid():
            path.unlink()
    except (OSError, ValueError, AttributeError):
        pass


def _idle_watch(last: list[float], limit: float, stop: threading.Event) -> None:
    """SIGTERM ourselves once idle (uvicorn then shuts down gracefully)."""
    while not stop.wait(min(limit, 5.0)):
        if time.monotonic() - last[0] > limit:
            os.kill(os.getpid(), signal.SIGTERM)
            return


__all__ = [
    "Verifier",
    "builtin_verifier",
    "create_app",
    "default_verifiers",
    "embedded_app",
    "serve_app",
    "token_store",
]
