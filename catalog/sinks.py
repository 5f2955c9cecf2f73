"""Where proposals go: a JSON file (always), DataHub Lite (embedded default), DataHub REST.

The JSON file is DataHub's file-sink format (``write_metadata_file``), so
``datahub ingest`` with a ``file`` source, ``datahub check metadata-file`` and
the golden-file helpers all read it. REST is the production path; it needs a
GMS server and is deliberately thin because it cannot be tested here.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from datahub.ingestion.sink.file import write_metadata_file
from datahub.lite.lite_local import DataHubLiteLocal

from catalog.common import MCP
from catalog.lite import open_lite
from regionlab.errors import UserError
from regionlab.settings import get_settings

GMS_URL_ENV = "DATAHUB_GMS_URL"
GMS_TOKEN_ENV = "DATAHUB_GMS_TOKEN"


def json_path() -> Path:
    return get_settings().catalog_dir / "metadata.json"


def write_json(mcps: Sequence[MCP], path: Path | None = None) -> Path:
    path = path or json_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    write_metadata_file(path, mcps)
    return path


def write_lite(mcps: Sequence[MCP], path: Path | None = None) -> int:
    """Upsert every proposal into DataHub Lite; returns how many were written.

    Lite only versions an aspect when its content changed, so emitting the
    same metadata twice adds nothing.
    """
    lite = open_lite(path)
    written = 0
    try:
        for mcp in mcps:
            if _already_newer(lite, mcp):
                continue
            lite.write(mcp)
            written += 1
    finally:
        lite.close()
    return written


def _already_newer(lite: DataHubLiteLocal, mcp: MCP) -> bool:
    """Lite is no time-series store: it keeps an event as a new version of the aspect.

    Re-emitting the history would append every old event again and leave an
    old one as the latest; events not newer than the stored one are skipped.
    """
    aspect = mcp.aspect
    if aspect is None or aspect.get_aspect_type() != "timeseries" or not mcp.entityUrn:
        return False
    stored = lite.get(mcp.entityUrn, [mcp.aspectName or aspect.get_aspect_name()])
    if not stored:
        return False
    current = stored.get(aspect.get_aspect_name())
    stamp = current.get("timestampMillis") if isinstance(current, dict) else None
    return stamp is not None and aspect.timestampMillis <= stamp


def rest_target() -> tuple[str, str | None] | None:
    """``(url, token)`` when ``DATAHUB_GMS_URL`` is set, else ``None``."""
    url = os.environ.get(GMS_URL_ENV, "").strip()
    if not url:
        return None
    return url, (os.environ.get(GMS_TOKEN_ENV) or None)


def write_rest(mcps: Sequence[MCP], url: str, token: str | None = None) -> int:
    """Send the proposals to a DataHub GMS. Not exercised by the tests: no server here."""
    from datahub.emitter.rest_emitter import DatahubRestEmitter

    emitter = DatahubRestEmitter(gms_server=url, token=token)
    try:
        try:
            emitter.test_connection()
        except Exception as exc:
            raise UserError(
                f"cannot reach DataHub GMS at {url} ({type(exc).__name__}); check "
                f"{GMS_URL_ENV} and {GMS_TOKEN_ENV}, or unset {GMS_URL_ENV} to skip REST"
            ) from exc
        emitter.emit_mcps(list(mcps))
    finally:
        emitter.close()
    return len(mcps)
