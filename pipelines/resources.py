"""Dagster resources: where the platform's files are and how to reach the quality layer."""

from __future__ import annotations

from pathlib import Path

from dagster import ConfigurableResource

from regionlab.settings import Settings, get_settings


class RegionlabResource(ConfigurableResource):
    """The platform's folders; empty fields fall back to the environment (REGIONLAB_VAR, ...)."""

    var_dir: str = ""
    domains_dir: str = ""

    def settings(self) -> Settings:
        base = get_settings()
        return Settings(
            var_dir=Path(self.var_dir) if self.var_dir else base.var_dir,
            domains_dir=Path(self.domains_dir) if self.domains_dir else base.domains_dir,
        )
