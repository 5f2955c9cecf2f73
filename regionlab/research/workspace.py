"""Project workspaces: one DuckDB file with exactly what a permit allows.

``build_workspace(project)`` reads the lake at one pinned snapshot and writes
``<var>/research/workspaces/<project>/<project>.duckdb`` holding, for every
permitted product, only the permitted columns and only the cohort's members.
Person keys are re-keyed with a project key (``derive_key(key,
"project:<id>")``), so the same person has a different pseudonym in every
project and one pseudonym across the tables of a project; two projects'
files cannot be joined. Row ids that also appear in other products (contact,
diagnosis, sample ids ...) are re-keyed with the same project key for the
same reason: left as they are, they would link projects just as well.

Dates and timestamps of person-level products are shifted per person or
coarsened as the permit's ``dates`` says (:mod:`regionlab.research.workspace_dates`):
exact timestamps link projects as well as keys do.

The file is encrypted at rest with the project's own key
(:mod:`regionlab.research.workspace_crypto`, kept in ``var/secrets``, never in
the workspace folder); the folder is 0700 and the file 0600, or 2750 and 0640
once the folder is given to the project's OS group. ``open_workspace`` hands
out a connection that cannot reach any other file (external access off,
configuration locked); in a process that cannot read the key (a member's own
account) it gets the key from the access service under the caller's permit
(:mod:`regionlab.research.workspace_grant`). Expired workspaces are deleted
with a receipt by :mod:`regionlab.research.workspace_sweep`.

A manifest (permit, snapshot, products, columns, row counts, date protection,
build time) is written beside the file; the copy for the catalogue shows row counts through
small-cell suppression because the catalogue has a wider audience than the
project.

The file is built under a temporary name and moved into place at the end, so
a failed build leaves the previous workspace untouched.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Mapping
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import duckdb
from pydantic import BaseModel, Field

from regionlab import lake
from regionlab.errors import UserError
from regionlab.lake.extensions import duckdb_connect
from regionlab.privacy.keys import PseudonymKey, derive_key, load_key
from regionlab.privacy.pseudonym import pseudonymise_keys
from regionlab.research.cohort_sql import compile_cohort, current_registry
from regionlab.research.permits import DateProtection, Permit, get_permit
from regionlab.research.suppression import suppress_count
from regionlab.research.workspace_crypto import attach, destroy_key, ensure_key, read_key
from regionlab.research.workspace_dates import DATE_TYPES, SHIFT_TABLE, column_sql, install_shifts
from regionlab.settings import get_settings
from regionlab.spec import Registry
from regionlab.sql import quote_ident

PERSON_KEY = "person_key"


class ProductManifest(BaseModel):
    product: str
    table: str
    """Table in the workspace file, e.g. ``laboratory.lab_results`` (same as the lake)."""
    columns: list[str]
    rows: int
    cohort_filtered: bool
    """False for products without persons (e.g. aggregates), which are copied whole."""
    rekeyed_columns: list[str]
    protected_dates: list[str] = Field(default_factory=list)
    """Date and timestamp columns shifted or coarsened (see ``WorkspaceManifest.dates``)."""


class WorkspaceManifest(BaseModel):
    project_id: str
    permit: dict[str, Any]
    permit_hash: str
    lake_snapshot: int
    lake_snapshot_time: datetime | None
    cohort_name: str
    cohort_hash: str
    cohort_index_date: date
    cohort_persons: int
    project_key_id: str
    """Fingerprint of the project key (never the key): equal ids, joinable pseudonyms."""
    products: list[ProductManifest]
    dates: DateProtection = Field(default_factory=DateProtection)
    """How dates were protected against linkage (the permit's ``dates``)."""
    encrypted: bool = False
    """Written with the project's workspace key (``var/secrets/workspaces``)."""
    built_at: datetime
    build_seconds: float
    workspace_file: str


def project_key(project_id: str, key: PseudonymKey | None = None) -> PseudonymKey:
    """The key a project's pseudonyms are computed with."""
    return derive_key(key or load_key(), f"project:{project_id}")


def workspace_dir(project_id: str) -> Path:
    return get_settings().workspace_dir(project_id)


def workspace_path(project_id: str) -> Path:
    return get_settings().workspace_file(project_id)


def manifest_path(project_id: str) -> Path:
    return get_settings().workspace_manifest(project_id)


def catalog_manifest_path(project_id: str) -> Path:
    """The manifest copy the catalogue publishes (counts suppressed)."""
    return get_settings().catalog_workspace_manifest(project_id)


def _rekey_columns(registry: Registry, ref: str, columns: list[str]) -> list[str]:
    """The person key and key-like columns a project could use to link to other projects.

    Key-like: the product's row key and every ``*_id`` (sample, contact and
    diagnosis ids also appear in other products and in other projects).
    """
    product = registry.products[ref]
    out = []
    for name in columns:
        col = product.published(name)
        if col is None or col.type.value != "varchar":
            continue
        if name == PERSON_KEY or name.endswith("_id") or name in product.row_key:
            out.append(name)
    return out


def _date_columns(registry: Registry, ref: str, columns: list[str]) -> dict[str, str]:
    """Granted column → its date type, for the date and timestamp columns."""
    product = registry.products[ref]
    out = {}
    for name in columns:
        col = product.published(name)
        if col is not None and col.type.value in DATE_TYPES:
            out[name] = col.type.value
    return out


def _check_not_expired(permit: Permit, today: date | None, action: str) -> None:
    if permit.expired(today):
        raise UserError(
            f"the permit for project {permit.project_id} expired on "
            f"{permit.expires.isoformat()}; cannot {action}. Ask for an extension: submit "
            "the renewed application (`regionlab permit apply`); an access officer approves it "
            "with --replace"
        )


def _private_folder(folder: Path) -> None:
    """A new workspace folder is 0700; one a project group was given keeps the group's bits.

    Others never get any access (see :mod:`regionlab.platform.project_groups`).
    """
    if not folder.is_dir():
        folder.mkdir(parents=True)
        os.chmod(folder, 0o700)
        return
    mode = folder.stat().st_mode
    os.chmod(folder, mode & 0o7770 if mode & 0o2000 else 0o700)


def _file_mode(folder: Path) -> int:
    """0600; 0640 in a folder given to a project group (setgid), whose members attach the
    file read-only with the key the service hands them (it is useless without it)."""
    return 0o640 if folder.stat().st_mode & 0o2000 else 0o600


def build_workspace(
    project_id: str,
    *,
    snapshot: int | None = None,
    key: PseudonymKey | None = None,
    today: date | None = None,
) -> WorkspaceManifest:
    """Build (or rebuild) a project's workspace at ``snapshot`` (default: newest)."""
    started = time.perf_counter()
    permit = get_permit(project_id)
    _check_not_expired(permit, today, "build the workspace")
    registry = current_registry()
    pkey = project_key(project_id, key)
    compiled = compile_cohort(permit.inline_cohort, registry=registry, today=today)
    for i, grant in enumerate(permit.products):
        if grant.product not in registry.products:
            raise UserError(
                f"registered permit {project_id}: products[{i}]: {grant.product} is no longer "
                "declared under domains/; ask the steward or amend the permit"
            )

    folder = workspace_dir(project_id)
    _private_folder(folder)
    target = workspace_path(project_id)
    tmp = target.with_name(f".{target.name}.building")
    tmp.unlink(missing_ok=True)
    file_key = ensure_key(project_id)

    con = lake.connect(read_only=True, snapshot=snapshot)
    try:
        snap_id = lake.current_snapshot(con)
        snap_time = next((s.time for s in lake.list_snapshots(con) if s.id == snap_id), None)
        compiled.check_lake(con)
        present = {f"{d}/{p}" for d, p in lake.list_tables(con)}
        for i, grant in enumerate(permit.products):
            if grant.product not in present:
                raise UserError(
                    f"permit {project_id}: products[{i}]: {grant.product} is not in the lake at "
                    f"snapshot {snap_id}; run its pipeline first or pick a later snapshot"
                )
        attach(con, tmp, file_key, "ws", read_only=False)
        con.execute(
            f"CREATE TEMP TABLE __cohort AS SELECT DISTINCT person_key FROM ({compiled.sql})"
        )
        cohort_persons = int(con.execute("SELECT count(*) FROM __cohort").fetchone()[0])
        install_shifts(
            con, "SELECT person_key FROM temp.main.__cohort", pkey, permit.dates.max_shift_days
        )
        products = [
            _copy_product(con, registry, grant.product, grant.columns, pkey, permit.dates)
            for grant in permit.products
        ]
        con.execute("DETACH ws")
    except BaseException:
        con.close()
        tmp.unlink(missing_ok=True)
        raise
    con.close()
    os.chmod(tmp, _file_mode(folder))
    os.replace(tmp, target)

    manifest = WorkspaceManifest(
        project_id=project_id,
        permit=permit.model_dump(mode="json", by_alias=True),
        permit_hash=permit.fingerprint(),
        lake_snapshot=snap_id,
        lake_snapshot_time=snap_time,
        cohort_name=compiled.cohort.name,
        cohort_hash=compiled.fingerprint,
        cohort_index_date=compiled.index_date,
        cohort_persons=cohort_persons,
        project_key_id=pkey.key_id,
        products=products,
        dates=permit.dates,
        encrypted=True,
        built_at=datetime.now(UTC),
        build_seconds=round(time.perf_counter() - started, 3),
        workspace_file=str(target),
    )
    _write_json(manifest_path(project_id), manifest.model_dump(mode="json"))
    _write_json(catalog_manifest_path(project_id), _catalog_view(manifest))
    return manifest


def _copy_product(
    con: duckdb.DuckDBPyConnection,
    registry: Registry,
    ref: str,
    columns: list[str],
    pkey: PseudonymKey,
    dates: DateProtection,
) -> ProductManifest:
    domain, name = ref.split("/")
    source = lake.table_name(domain, name)
    target = f"ws.{quote_ident(domain)}.{quote_ident(name)}"
    has_persons = registry.products[ref].published(PERSON_KEY) is not None
    date_types = _date_columns(registry, ref, columns) if has_persons else {}
    select = ", ".join(
        column_sql(c, date_types.get(c, ""), dates, shifted=has_persons) for c in columns
    )
    # The join with the shifts (one row per cohort member) is also the cohort filter.
    join = (
        f" JOIN temp.main.{SHIFT_TABLE} AS sh ON s.person_key = sh.person_key"
        if has_persons
        else ""
    )
    con.execute(f"CREATE SCHEMA IF NOT EXISTS ws.{quote_ident(domain)}")
    con.execute(f"CREATE TABLE {target} AS SELECT {select} FROM {source} AS s{join}")
    rekeyed = _rekey_columns(registry, ref, columns) if has_persons else []
    for column in rekeyed:
        pseudonymise_keys(con, f"ws.{domain}.{name}", column, pkey)
    rows = int(con.execute(f"SELECT count(*) FROM {target}").fetchone()[0])
    return ProductManifest(
        product=ref,
        table=f"{domain}.{name}",
        columns=list(columns),
        rows=rows,
        cohort_filtered=has_persons,
        rekeyed_columns=rekeyed,
        protected_dates=list(date_types),
    )


def _catalog_view(manifest: WorkspaceManifest) -> dict[str, Any]:
    """The catalogue's copy: who, what and when, with small counts hidden."""
    data = manifest.model_dump(mode="json")
    data["cohort_persons"] = suppress_count(manifest.cohort_persons)
    for product in data["products"]:
        product["rows"] = suppress_count(product["rows"])
    data.pop("workspace_file")
    return data


def _write_json(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(data, indent=2, ensure_ascii=False, default=str), encoding="utf-8")
    os.replace(tmp, path)


def read_manifest(project_id: str) -> WorkspaceManifest:
    path = manifest_path(project_id)
    if not path.is_file() or not workspace_path(project_id).is_file():
        raise UserError(
            f"project {project_id} has no workspace yet; build it with "
            f"`regionlab workspace build {project_id}`"
        )
    return WorkspaceManifest.model_validate_json(path.read_text(encoding="utf-8"))


def _key_held_elsewhere() -> bool:
    """True when this process cannot read the workspace keys (multi-user: another account).

    ``os.path.exists`` (not ``Path.exists``) because a folder inside the service's
    0700 ``secrets/`` cannot even be stat'ed by a researcher's account.
    """
    settings = get_settings()
    for folder in (settings.workspace_keys_dir, settings.secrets_dir):
        if os.path.exists(folder):
            return not os.access(folder, os.R_OK | os.X_OK)
    return False


def _locked_connection(path: Path, key: str, alias: str) -> duckdb.DuckDBPyConnection:
    """Attach the encrypted file read-only as the default database, then lock everything.

    External access off and the configuration locked: no other file (the
    pseudonymisation key, the sources, the quarantine, another workspace) can be
    read, attached or written from the connection, and it cannot be switched back.
    """
    con = duckdb_connect()
    try:
        attach(con, path, key, alias, read_only=True)
        con.execute(f"USE {quote_ident(alias)}")
        con.execute("SET temp_file_encryption = true")
        con.execute("SET enable_external_access = false")
        con.execute("SET lock_configuration = true")
    except BaseException:
        con.close()
        raise
    return con


def open_workspace(
    project_id: str, *, today: date | None = None, via_service: bool | None = None
) -> duckdb.DuckDBPyConnection:
    """A read-only connection to the project's workspace; refused once the permit expired.

    Also refused when the permit was re-registered after the build: the file
    may then hold more than the current permit allows. The file is attached
    with its key and made the default database (tables read as
    ``laboratory.lab_results``); then external access is switched off and the
    configuration locked, so no other file (the key, the sources, the
    quarantine, another workspace) can be read, attached or written from it.
    Results leave as data frames (``.pl()``, ``.df()``) written by the caller.

    Where the key comes from: this process reads it from ``var/secrets`` when
    it can (embedded profile); otherwise (multi-user profile, the researcher's
    own account) the access service hands it over under the caller's token
    after checking the permit (:mod:`regionlab.research.workspace_grant`), and
    the same locked connection is built here. ``via_service`` forces either way.
    """
    if via_service is None:
        via_service = _key_held_elsewhere()
    if via_service:
        from regionlab.research.client import ServiceClient

        return attach_granted(ServiceClient().open_workspace(project_id))
    permit = get_permit(project_id)
    _check_not_expired(permit, today, "open the workspace")
    manifest = read_manifest(project_id)
    if manifest.permit_hash != permit.fingerprint():
        raise UserError(
            f"the workspace of {project_id} was built for an earlier version of its permit; "
            f"rebuild it with `regionlab workspace build {project_id}`"
        )
    if not manifest.encrypted:
        raise UserError(
            f"the workspace of {project_id} was built before workspaces were encrypted; "
            f"rebuild it with `regionlab workspace build {project_id}`"
        )
    return _locked_connection(workspace_path(project_id), read_key(project_id), project_id)


def attach_granted(grant: Mapping[str, Any]) -> duckdb.DuckDBPyConnection:
    """The locked, read-only connection for a grant from ``POST /workspaces/{project}/open``.

    The key stays in this connection only: it is not written anywhere.
    """
    path = Path(str(grant["path"]))
    try:
        return _locked_connection(path, str(grant["key"]), str(grant["project_id"]))
    except duckdb.IOException:
        raise UserError(
            f"cannot read the workspace file {path}: your account must be a member of the "
            f"project's group (ask the operator: `regionlab workspace provision "
            f"{grant['project_id']} --member <you>`) and reach the platform's var/ folder"
        ) from None
    except (duckdb.InvalidInputException, duckdb.CatalogException):
        # Wrong key or a file that is not (or no longer) the encrypted workspace: the
        # workspace was swept and rebuilt with a new key, or replaced, since the hand-over.
        raise UserError(
            f"the workspace file {path} does not match the key handed over (it was rebuilt or "
            f"replaced since); open the workspace again: open_workspace({grant['project_id']!r})"
        ) from None


def remove_workspace(project_id: str) -> None:
    """Delete a project's workspace folder and its key (e.g. after the permit ended).

    Without the key no copy of the file can be read either.
    """
    shutil.rmtree(workspace_dir(project_id), ignore_errors=True)
    destroy_key(project_id)
    catalog_manifest_path(project_id).unlink(missing_ok=True)


__all__ = [
    "ProductManifest",
    "WorkspaceManifest",
    "attach_granted",
    "build_workspace",
    "catalog_manifest_path",
    "manifest_path",
    "open_workspace",
    "project_key",
    "read_manifest",
    "remove_workspace",
    "workspace_dir",
    "workspace_path",
]
