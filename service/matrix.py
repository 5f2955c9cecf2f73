"""The role matrix and the OpenAPI description, read from the app itself.

Each route declares its roles with :func:`service.auth.allow`, which marks its
dependency with ``regionlab_roles``; this module walks every route's dependency
tree for that mark, so ``docs/access.md`` (and the test that calls every
endpoint with every role) always follows the code, including routes added
later. A route without the mark must be listed in :data:`PUBLIC`, or the test fails.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from service.auth import ROLES_ATTR
from service.roles import ALL_ROLES, Role

#: Endpoints that need no token, and why.
PUBLIC: dict[str, str] = {
    "GET /health": "liveness only; says nothing else",
    "GET /permits/apply": "how to apply for a permit, the catalogue's link target; holds no data",
}

ACCESS_DOC = Path("docs") / "access.md"
OPENAPI_DOC = Path("docs") / "openapi.json"


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str
    summary: str
    roles: frozenset[Role] | None
    """The admitted roles; ``None`` for a public endpoint (no token)."""

    @property
    def key(self) -> str:
        return f"{self.method} {self.path}"


def _roles(dependant: Dependant) -> frozenset[Role] | None:
    found = getattr(dependant.call, ROLES_ATTR, None)
    if found is not None:
        return frozenset(found)
    for sub in dependant.dependencies:
        roles = _roles(sub)
        if roles is not None:
            return roles
    return None


def _api_routes(app: FastAPI) -> list[tuple[APIRoute, str, Dependant]]:
    """``(route, effective path, effective dependant)`` of every API route.

    FastAPI >= 0.140 keeps included routers as ``_IncludedRouter`` entries in
    ``app.routes``; :func:`fastapi.routing.iter_route_contexts` (what its own
    OpenAPI generator uses) flattens them, with the path after any include prefix.
    """
    try:
        from fastapi.routing import iter_route_contexts
    except ImportError:  # older FastAPI: included routes are plain APIRoutes
        return [(r, r.path, r.dependant) for r in app.routes if isinstance(r, APIRoute)]
    out = []
    for context in iter_route_contexts(app.routes):
        route = context.original_route
        if not isinstance(route, APIRoute):
            continue
        effective = getattr(context, "_route_context", None)
        path = getattr(effective, "path", None) or route.path
        dependant = getattr(effective, "dependant", None) or route.dependant
        out.append((route, path, dependant))
    return out


def endpoints(app: FastAPI) -> list[Endpoint]:
    """Every API route × method with the roles it admits, in path order."""
    out = []
    for route, path, dependant in _api_routes(app):
        doc = (route.description or route.summary or "").strip().splitlines()
        roles = _roles(dependant) or _roles(route.dependant)
        for method in sorted(route.methods - {"HEAD", "OPTIONS"}):
            out.append(Endpoint(method, path, doc[0] if doc else "", roles))
    return sorted(out, key=lambda e: (e.path, e.method))


def docs_app() -> FastAPI:
    """The app with default settings and no token store, for the docs (reads no ``var/``)."""
    from service.app import create_app
    from service.settings import ServiceSettings

    return create_app([lambda token: None], ServiceSettings())


def access_markdown(app: FastAPI) -> str:
    """``docs/access.md``: one row per endpoint, one column per role."""
    roles = list(ALL_ROLES)
    lines = [
        "# Access: which role may call which endpoint",
        "",
        "Generated from the access service's routes by `regionlab serve --write-docs`;",
        "`tests/service/test_role_matrix.py` calls every endpoint with every role and fails",
        "when this file is stale or a role gets anything but 403 where the table has no ✓.",
        "A caller's role comes from their token: the built-in issuer (`regionlab users add",
        "NAME --role ROLE`) or the region's identity provider (the `regionlab_role` claim).",
        "",
        "| endpoint | " + " | ".join(r.value for r in roles) + " | what it does |",
        "| --- | " + " | ".join("---" for _ in roles) + " | --- |",
    ]
    for e in endpoints(app):
        if e.roles is None:
            marks = ["public"] * len(roles)
        else:
            marks = ["✓" if r in e.roles else "—" for r in roles]
        lines.append(f"| `{e.key}` | " + " | ".join(marks) + f" | {e.summary} |")
    lines += [
        "",
        "Public endpoints need no token: "
        + "; ".join(f"`{k}` ({why})" for k, why in sorted(PUBLIC.items()))
        + ".",
        "",
        "The built catalogue site is served at `/site/` without a token (static metadata and",
        "aggregate counts only; not an API endpoint, so not in the table): its feasibility form",
        "calls `POST /feasibility` on the same origin with the researcher's own token.",
        "",
        "The machine-readable description of every endpoint is [openapi.json](openapi.json).",
        "",
    ]
    return "\n".join(lines)


def openapi_json(app: FastAPI) -> str:
    return json.dumps(app.openapi(), indent=2, ensure_ascii=False) + "\n"


def write_docs(root: Path) -> list[Path]:
    """Write ``docs/access.md`` and ``docs/openapi.json`` under ``root``."""
    app = docs_app()
    written = []
    for rel, text in ((ACCESS_DOC, access_markdown(app)), (OPENAPI_DOC, openapi_json(app))):
        path = root / rel
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written


__all__ = [
    "ACCESS_DOC",
    "OPENAPI_DOC",
    "PUBLIC",
    "Endpoint",
    "access_markdown",
    "docs_app",
    "endpoints",
    "openapi_json",
    "write_docs",
]
