"""Where regionlab keeps its files, resolved once from the environment.

Everything generated lives under one ``var/`` folder (git-ignored) so a fresh
clone starts clean and a test can point the whole platform at a temporary
folder by setting ``REGIONLAB_VAR``.
"""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import BaseModel

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class Settings(BaseModel):
    """Locations of the project's inputs and generated state."""

    domains_dir: Path
    var_dir: Path

    @property
    def sources_dir(self) -> Path:
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

    @property
    def quarantine_dir(self) -> Path:
        return self.var_dir / "quarantine"

    @property
    def catalog_dir(self) -> Path:
        return self.var_dir / "catalog"


def get_settings() -> Settings:
    """Read the settings from ``REGIONLAB_DOMAINS`` and ``REGIONLAB_VAR``."""
    domains = os.environ.get("REGIONLAB_DOMAINS", str(PROJECT_ROOT / "domains"))
    var = os.environ.get("REGIONLAB_VAR", str(PROJECT_ROOT / "var"))
    return Settings(domains_dir=Path(domains), var_dir=Path(var))
