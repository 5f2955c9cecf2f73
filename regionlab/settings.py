"""Where regionlab keeps its files: the whole ``var/`` layout, declared once.

Everything generated lives under one ``var/`` folder (git-ignored) so a fresh
clone starts clean and a test can point the whole platform at a temporary
folder by setting ``REGIONLAB_VAR``. Every place under ``var/`` — zones,
their file names, logs, exports — is a property or method of
:class:`Settings`; modules ask it instead of joining path segments
themselves, so a writer and a reader (the pipeline and erasure, ``pull`` and
the catalogue) cannot drift apart. :data:`LOCATIONS` lists the locations with
whether they can hold person data; erasure and retention cover each one that
can (see :mod:`regionlab.erasure.stores`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel

PROJECT_ROOT = Path(__file__).resolve().parent.parent

VAR_ENV = "REGIONLAB_VAR"
DOMAINS_ENV = "REGIONLAB_DOMAINS"

#: File suffix of every DuckDB zone file (quarantine, staging, workspaces).
DUCKDB_SUFFIX = ".duckdb"


class Settings(BaseModel):
    """Locations of the project's inputs and generated state."""

    domains_dir: Path
    var_dir: Path

    # --- zones of the data flow ----------------------------------------------------

    @property
    def sources_dir(self) -> Path:
        """Raw source deliveries: ``<sources>/<system>/<extract>/<extract>_<date>.<fmt>``."""
        return self.var_dir / "sources"

    @property
    def lake_dir(self) -> Path:
        return self.var_dir / "lake"

    @property
    def secrets_dir(self) -> Path:
        return self.var_dir / "secrets"

    @property
    def staging_dir(self) -> Path:
        return self.var_dir / "staging"

    def staging_file(self, domain: str, product_id: str) -> Path:
        """A run's scratch DuckDB file (holds raw rows, CPR numbers included; deleted after)."""
        return self.staging_dir / f"{domain}.{product_id}{DUCKDB_SUFFIX}"

    def spill_dir(self, domain: str, product_id: str, run_id: str) -> Path:
        """Where DuckDB spills one run's sorts and joins beyond its memory limit.

        Beside the run's staging file (same private folder, same lock, removed with it):
        what DuckDB spills is the run's rows. One folder per run, not per product: a run
        opens its connection before it waits for the product's lock and the run before
        it closes its own after releasing it, and DuckDB deletes its temp files by name
        (and a folder it created) on close.
        """
        tag = "".join(c if c.isascii() and (c.isalnum() or c in "-_") else "_" for c in run_id)
        return self.staging_file(domain, product_id).with_suffix(f".spill-{tag}")

    def staging_files(self) -> list[Path]:
        """Staging files left behind (and their WAL files), and runs' spill folders."""
        folder = self.staging_dir
        if not folder.is_dir():
            return []
        return sorted({*folder.glob(f"*{DUCKDB_SUFFIX}*"), *folder.glob("*.spill-*")})

    @property
    def quarantine_dir(self) -> Path:
        return self.var_dir / "quarantine"

    def quarantine_file(self, product_ref: str) -> Path:
        """``diagnoses/diagnoses`` → ``<var>/quarantine/diagnoses.diagnoses.duckdb``."""
        return self.quarantine_dir / f"{product_ref.replace('/', '.')}{DUCKDB_SUFFIX}"

    def quarantine_files(self) -> list[Path]:
        folder = self.quarantine_dir
        return sorted(folder.glob(f"*{DUCKDB_SUFFIX}")) if folder.is_dir() else []

    @staticmethod
    def quarantine_product(path: Path) -> str:
        """The product ref of a quarantine zone file (inverse of :meth:`quarantine_file`)."""
        return path.name.removesuffix(DUCKDB_SUFFIX).replace(".", "/", 1)

    # --- catalogue -------------------------------------------------------------------

    @property
    def catalog_dir(self) -> Path:
        return self.var_dir / "catalog"

    @property
    def datahub_dir(self) -> Path:
        return self.var_dir / "datahub"

    # --- research ----------------------------------------------------------------

    @property
    def research_dir(self) -> Path:
        """Registered permits, workspaces and the feasibility audit log."""
        return self.var_dir / "research"

    @property
    def permits_dir(self) -> Path:
        return self.research_dir / "permits"

    @property
    def legacy_feasibility_log(self) -> Path:
        """The JSONL feasibility log before the audit store; read once, by the migration."""
        return self.research_dir / "audit" / "feasibility.jsonl"

    @property
    def workspaces_dir(self) -> Path:
        return self.research_dir / "workspaces"

    def workspace_dir(self, project_id: str) -> Path:
        return self.workspaces_dir / project_id

    def workspace_file(self, project_id: str) -> Path:
        return self.workspace_dir(project_id) / f"{project_id}{DUCKDB_SUFFIX}"

    def workspace_manifest(self, project_id: str) -> Path:
        return self.workspace_dir(project_id) / "manifest.json"

    def workspace_files(self) -> dict[str, Path]:
        """project id → workspace DuckDB file, for every workspace that exists."""
        root = self.workspaces_dir
        if not root.is_dir():
            return {}
        return {
            d.name: self.workspace_file(d.name)
            for d in sorted(root.iterdir())
            if d.is_dir() and self.workspace_file(d.name).is_file()
        }

    @property
    def workspace_keys_dir(self) -> Path:
        """Per-project workspace encryption keys (``secrets/workspaces``, 0700, files 0600).

        Never inside the workspace folder: a copy of that folder holds no key."""
        return self.secrets_dir / "workspaces"

    def workspace_key_file(self, project_id: str) -> Path:
        return self.workspace_keys_dir / f"{project_id}.key"

    @property
    def workspace_receipts_dir(self) -> Path:
        """Receipts of deleted workspaces (file names, sizes, rule; no values)."""
        return self.erasure_dir / "workspaces"

    def catalog_workspace_manifest(self, project_id: str) -> Path:
        """The workspace manifest copy the catalogue publishes (counts suppressed)."""
        return self.catalog_dir / "research" / "workspaces" / f"{project_id}.json"

    # --- labelling ---------------------------------------------------------------

    @property
    def labeling_dir(self) -> Path:
        return self.var_dir / "labeling"

    @property
    def label_exports_dir(self) -> Path:
        """Consensus training exports, one JSONL file per labelled product."""
        return self.labeling_dir / "exports"

    def label_export(self, labelled_name: str) -> Path:
        return self.label_exports_dir / f"{labelled_name}.jsonl"

    @property
    def label_manifests_dir(self) -> Path:
        """What ``labeling pull`` tells the catalogue about each labelled product."""
        return self.labeling_dir / "manifests"

    def label_manifest(self, labelled_name: str) -> Path:
        return self.label_manifests_dir / f"{labelled_name}.json"

    @property
    def labelstudio_dir(self) -> Path:
        """Label Studio's own home: its database, server state and virtual environment."""
        return self.var_dir / "labelstudio"

    # --- access service -------------------------------------------------------

    @property
    def service_dir(self) -> Path:
        """The access service's own state: identities, the audit store, its runtime file.

        In the multi-user profile this folder, ``lake/`` and ``secrets/`` belong to the
        service's OS user alone (mode 0700)."""
        return self.var_dir / "service"

    @property
    def audit_store_file(self) -> Path:
        """The audit store of the embedded profile (SQLite, 0600)."""
        return self.service_dir / "audit.sqlite"

    @property
    def audit_checkpoints_dir(self) -> Path:
        """Default home of the signed audit checkpoints (``audit_checkpoints`` overrides it)."""
        return self.service_dir / "checkpoints"

    @property
    def audit_mac_key_file(self) -> Path:
        """The key of the audit store's MAC chain (held by the service only)."""
        return self.secrets_dir / "audit-mac.key"

    @property
    def disclosure_key_file(self) -> Path:
        """The differencing defence's noise key (``secrets/disclosure-noise.key``, 0600)."""
        return self.secrets_dir / "disclosure-noise.key"

    @property
    def audit_signing_key_file(self) -> Path:
        """The Ed25519 key that signs audit checkpoints."""
        return self.secrets_dir / "audit-checkpoint.key"

    # --- erasure -----------------------------------------------------------------

    @property
    def erasure_dir(self) -> Path:
        return self.var_dir / "erasure"

    @property
    def receipts_dir(self) -> Path:
        return self.erasure_dir / "receipts"

    def receipt_file(self, request_id: str) -> Path:
        return self.receipts_dir / f"{request_id}.json"

    @property
    def model_cards_dir(self) -> Path:
        """Model cards (``models/<id>.yaml``) live beside ``domains/``."""
        return self.domains_dir.parent / "models"

    @property
    def models_dir(self) -> Path:
        """Trained model coefficients and validation reports (aggregates only)."""
        return self.var_dir / "models"

    def model_report_dir(self, model_id: str) -> Path:
        return self.models_dir / model_id

    @property
    def erasure_register(self) -> Path:
        return self.erasure_dir / "register.jsonl"

    # --- orchestration -----------------------------------------------------------

    @property
    def fingerprint_cache(self) -> Path:
        """Digests of delivery files by file identity (:mod:`regionlab.wap.fingerprints`)."""
        return self.var_dir / "cache" / "delivery-fingerprints.json"

    @property
    def dagster_home(self) -> Path:
        """The default Dagster instance folder (``DAGSTER_HOME`` overrides it)."""
        return self.var_dir / "dagster"


@dataclass(frozen=True)
class Location:
    """A top-level place under ``var/`` and whether it can hold data about persons."""

    folder: str
    person_data: bool
    why: str


#: Every top-level folder the platform writes under ``var/``. A folder that can hold
#: person data must have an erasure store (:mod:`regionlab.erasure.stores`); a test
#: fails for a file under ``var/`` that no location claims.
LOCATIONS: tuple[Location, ...] = (
    Location("sources", False, "the source systems' deliveries: not the platform's to edit; "
             "the suppression list keeps erased persons from being loaded again"),
    Location("lake", True, "published and labelled products, snapshots, data files"),
    Location("staging", True, "scratch copies of raw extracts during a run"),
    Location("quarantine", True, "rows that could not be published, with their raw text"),
    Location("research", True, "workspaces (row level), permits and applications"),
    Location("labeling", True, "training exports and manifests of labelled products"),
    Location("labelstudio", True, "Label Studio's database: tasks hold sampled texts"),
    Location("erasure", False, "receipts and the register: counts and digests only"),
    Location("catalog", False, "catalogue metadata, exports and site: counts only"),
    Location("datahub", False, "DataHub Lite: the same metadata as the catalogue"),
    Location("dagster", True, "Dagster's run storage: event metadata and logs of runs"),
    Location("service", False, "the access service: hashed tokens, the audit store (who asked "
             "which cohort definition and the answer's shape; no person rows)"),
    Location("models", False, "trained model coefficients and validation reports: metrics, "
             "counts of suppressed subgroups, plots of aggregates; saved test sets list row "
             "keys only (erasure removes erased rows' keys)"),
    Location("cache", False, "SHA-256 digests of delivery files by name, size and times "
             "(no content), so a run need not re-read every delivery"),
    Location("secrets", False, "the pseudonymisation key and service passwords"),
    Location("followups", False, "markers of deferred runs' follow-up work (product "
             "references only) and the background follow-up's log (the run output)"),
)  # fmt: skip


def get_settings() -> Settings:
    """The folders of the active configuration (see :mod:`regionlab.config`)."""
    from regionlab.config import current

    return current().settings
