"""The built catalogue site, served by the access service at ``/site/``.

The site (``catalog/site/build.py``, under ``<var>/catalog/site``) holds catalogue
metadata and aggregate counts only, so it needs no token. Served from here its
feasibility form finds ``/health`` on the same origin and asks ``POST /feasibility``
with the researcher's own token; opened from disk it shows a note instead. The
folder is looked up on every request, so a site built after the service started
is served without a restart, and a missing one answers 404 with how to build it
rather than a server error.

Every response carries a Content-Security-Policy that admits only the site's own
files and calls to this origin: the page handles a bearer token (kept in the
tab's ``sessionStorage``), so nothing from elsewhere may run next to it.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from starlette.responses import JSONResponse
from starlette.staticfiles import StaticFiles
from starlette.types import Message, Receive, Scope, Send

from regionlab.config import current

MOUNT = "/site"
BUILD_HINT = "the catalogue site is not built; run `regionlab catalog site` on the service's host"
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; "
    "frame-ancestors 'none'"
)


def site_folder() -> Path:
    """``<var>/catalog/site``: where ``catalog/site/build.py`` writes the site by default."""
    return current().settings.catalog_dir / "site"


class SiteFiles(StaticFiles):
    """Static files of a folder that may not exist yet (404 with a hint until it does)."""

    def __init__(self, folder: Path) -> None:
        super().__init__(directory=folder, html=True, check_dir=False)
        self.folder = folder

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not (self.folder / "index.html").is_file():
            await JSONResponse({"detail": BUILD_HINT}, status_code=404)(scope, receive, send)
            return

        async def with_policy(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers.append((b"content-security-policy", CSP.encode()))
                headers.append((b"x-content-type-options", b"nosniff"))
                headers.append((b"referrer-policy", b"no-referrer"))
                message = {**message, "headers": headers}
            await send(message)

        await super().__call__(scope, receive, with_policy)


def mount_site(app: FastAPI, folder: Path | None = None) -> None:
    """Serve the catalogue site at ``/site/`` (outside the OpenAPI description and the
    role matrix: it is static metadata, not an endpoint of the API)."""
    app.mount(MOUNT, SiteFiles(folder or site_folder()), name="site")


__all__ = ["BUILD_HINT", "CSP", "MOUNT", "SiteFiles", "mount_site", "site_folder"]
