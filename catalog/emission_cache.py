"""What an emission read, fingerprinted, so one with nothing new costs almost nothing.

An emission reads the specs (``domains/``), the lake (≈90 queries, the bulk of its time:
issue 23), the erasure register, the labelling manifests and the model cards and reports,
then builds ≈1,000 proposals and writes them to the JSON file and DataHub Lite. When none
of these inputs changed since the last successful emission, its output would be the same
proposals again (only the emission's own time stamp differs, which the Lite sink already
ignores, :mod:`catalog.emitted`). This module fingerprints the inputs without reading the
lake through DuckDB or parsing the specs:

* the lake: its snapshots (id, schema version, next file id) and data files, read from
  the SQLite catalogue with Python's ``sqlite3`` — every DuckLake commit (publish,
  quality result, load log, erasure) adds a snapshot; expiring snapshots or rewriting
  files changes the rows read. A PostgreSQL catalogue has no fingerprint here: every
  emission is then a full one;
* the specs, the register, the manifests, the model cards and the models folder: the
  bytes of their files (the size and modification time for a file over 1 MB);
* a registry the caller passed (``regionlab run`` passes its own): its JSON;
* the code that builds the proposals (``catalog/`` and ``regionlab/``) and the DataHub
  client's version.

Two uses (:func:`catalog.publish.emit_catalog`):

1. the whole emission is skipped when the fingerprint equals the last successful
   emission's and the JSON file and Lite are as that emission left them (no REST sink
   configured) — the files keep the time stamp of the emission that last changed them;
2. otherwise the lake facts are reused when the lake, the register, the specs and the
   code are unchanged (e.g. only a model report or a labelling manifest changed), and
   read from the lake otherwise. The facts are stored without the emission time, so an
   emission from cached facts is byte-for-byte the emission from the lake
   (``tests/catalog/test_emission_cache.py``).

State: ``<var>/catalog/emission-state.json`` and ``<var>/catalog/lake-facts.json``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import sqlite3
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from catalog.facts import CatalogFacts
    from regionlab.spec import Registry

STATE_VERSION = 1
#: Files larger than this are fingerprinted by size and modification time, not content.
_HASH_LIMIT = 1 << 20
#: The code that builds the proposals: the catalogue package and the platform it reads
#: through (specs, lake facts, privacy rules), so an upgrade of either re-emits.
_CODE_DIRS = (Path(__file__).resolve().parent, Path(__file__).resolve().parent.parent / "regionlab")


def _catalog_dir() -> Path:
    from regionlab.settings import get_settings

    return get_settings().catalog_dir


def state_file() -> Path:
    return _catalog_dir() / "emission-state.json"


def facts_file() -> Path:
    return _catalog_dir() / "lake-facts.json"


def json_file() -> Path:
    """``catalog.sinks.json_path`` without importing DataHub."""
    return _catalog_dir() / "metadata.json"


def lite_path() -> Path:
    """``catalog.lite.lite_file`` without importing DataHub."""
    from catalog.home import datahub_dir

    return datahub_dir() / "lite.duckdb"


def rest_configured() -> bool:
    """Whether the REST sink is set (``catalog.sinks.rest_target``): then every emission
    sends everything, as before."""
    return bool(os.environ.get("DATAHUB_GMS_URL", "").strip())


def file_stamp(path: Path) -> list[int] | None:
    """Inode, size and modification time: changes whenever anything rewrites the file."""
    try:
        st = path.stat()
    except FileNotFoundError:
        return None
    return [st.st_ino, st.st_size, st.st_mtime_ns]


def tree_digest(path: Path, suffixes: tuple[str, ...] | None = None) -> str:
    """Digest of a file or folder: relative names and bytes (stat for large files)."""
    h = hashlib.sha256()
    if path.is_file():
        files = [path]
    elif path.is_dir():
        files = sorted(p for p in path.rglob("*") if p.is_file() and "__pycache__" not in p.parts)
    else:
        return "absent"
    for file in files:
        if suffixes is not None and file.suffix not in suffixes:
            continue
        st = file.stat()
        h.update(str(file.relative_to(path) if file != path else file.name).encode() + b"\0")
        if st.st_size > _HASH_LIMIT:
            h.update(f"stat:{st.st_size}:{st.st_mtime_ns}\0".encode())
        else:
            h.update(hashlib.sha256(file.read_bytes()).digest())
    return h.hexdigest()


def lake_digest() -> str | None:
    """The lake's state from its SQLite catalogue; ``None`` when it cannot be read cheaply
    (PostgreSQL catalogue, locked or unreadable file). ``"absent"`` without a lake."""
    from regionlab.config import current

    config = current().lake
    if config.catalog_type != "sqlite":
        return None
    path = Path(config.catalog)
    if not path.exists():
        return "absent"
    h = hashlib.sha256(f"{path.resolve()}\0{config.data_path}\0".encode())
    try:
        con = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=5)
        try:
            for query in (
                "SELECT snapshot_id, schema_version, next_catalog_id, next_file_id "
                "FROM ducklake_snapshot ORDER BY snapshot_id",
                "SELECT count(*), max(data_file_id), sum(record_count) FROM ducklake_data_file",
                "SELECT count(*), max(delete_file_id) FROM ducklake_delete_file",
            ):
                for row in con.execute(query):
                    h.update(repr(row).encode())
        finally:
            con.close()
    except sqlite3.Error:
        return None
    return h.hexdigest()


@dataclass(frozen=True)
class Fingerprint:
    """Digests of everything an emission reads; ``facts`` covers what the lake facts read."""

    facts: str
    emission: str


def fingerprint(registry: Registry | None = None) -> Fingerprint | None:
    """The inputs' fingerprint, or ``None`` when the lake's state cannot be read cheaply."""
    from regionlab.settings import get_settings

    lake = lake_digest()
    if lake is None:
        return None
    settings = get_settings()
    try:
        datahub = metadata.version("acryl-datahub")
    except metadata.PackageNotFoundError:
        datahub = "?"
    specs = tree_digest(settings.domains_dir)
    if registry is not None:
        specs += ":" + hashlib.sha256(registry.model_dump_json().encode()).hexdigest()
    code = ":".join(tree_digest(d, (".py",)) for d in _CODE_DIRS) + ":" + datahub
    facts_parts = {
        "lake": lake,
        "specs": specs,
        "register": tree_digest(settings.erasure_register),
        "code": code,
        "var": str(settings.var_dir.resolve()),
    }
    facts = hashlib.sha256(json.dumps(facts_parts, sort_keys=True).encode()).hexdigest()
    emission_parts = {
        "facts": facts,
        "labels": tree_digest(settings.label_manifests_dir),
        "cards": tree_digest(settings.model_cards_dir),
        "models": tree_digest(settings.models_dir),
    }
    emission = hashlib.sha256(json.dumps(emission_parts, sort_keys=True).encode()).hexdigest()
    return Fingerprint(facts=facts, emission=emission)


def _write(path: Path, payload: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(payload, sort_keys=True), encoding="utf-8")
    os.replace(tmp, path)  # a reader sees the old state or the new one


def _read(path: Path) -> dict[str, Any] | None:
    try:
        payload = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(payload, dict) or payload.get("version") != STATE_VERSION:
        return None
    return payload


# ------------------------------------------------------------------ lake facts


def cached_facts(key: str, now: dt.datetime) -> CatalogFacts | None:
    """The lake facts stored under ``key``, stamped ``now``; ``None`` when absent or stale."""
    from catalog.facts import CatalogFacts

    payload = _read(facts_file())
    if payload is None or payload.get("key") != key or not isinstance(payload.get("facts"), str):
        return None
    try:
        facts = CatalogFacts.model_validate_json(payload["facts"])
    except ValueError:
        return None
    return facts.model_copy(update={"generated_at": now})


def store_facts(key: str, facts: CatalogFacts) -> None:
    _write(facts_file(), {"version": STATE_VERSION, "key": key, "facts": facts.model_dump_json()})


# ------------------------------------------------------------------ whole emission


def unchanged_result(
    fp: Fingerprint, *, lite: bool, json_path: Path, lite_path: Path | None
) -> dict[str, Any] | None:
    """The last emission's result when its inputs and its output files are unchanged."""
    state = _read(state_file())
    if (
        state is None
        or state.get("inputs") != fp.emission
        or state.get("lite") != lite
        or state.get("json") != [str(json_path.resolve()), file_stamp(json_path)]
        or file_stamp(json_path) is None
        or not isinstance(state.get("result"), dict)
    ):
        return None
    if lite:
        from catalog import emitted

        assert lite_path is not None
        if not emitted.load(lite_path).valid:  # Lite was written by another writer since
            return None
    return dict(state["result"])


def record_emission(
    fp: Fingerprint, *, lite: bool, json_path: Path, result: dict[str, Any]
) -> None:
    """Remember a successful emission: its inputs, the JSON file as written, its result."""
    _write(
        state_file(),
        {
            "version": STATE_VERSION,
            "inputs": fp.emission,
            "lite": lite,
            "json": [str(json_path.resolve()), file_stamp(json_path)],
            "result": result,
        },
    )


def forget_emission() -> None:
    """The next emission builds the proposals and writes the sinks again."""
    state_file().unlink(missing_ok=True)


def forget() -> None:
    """Drop the emission state and the cached lake facts (the next emission is a full one)."""
    forget_emission()
    facts_file().unlink(missing_ok=True)
