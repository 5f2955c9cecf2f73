"""The access service's own settings: disclosure policy, address and identity provider.

The point of the service is that a client cannot change the rules it answers
by, so none of these values is read from ``REGIONLAB_*`` environment variables
(unlike the profile keys, which a deployment overrides that way): a researcher
who starts the embedded service from their own shell would otherwise pass
their own floor along. Two places hold them, both on the server's side:

1. the ``[service]`` table of ``regionlab.toml`` (the repository's file, or the
   one ``REGIONLAB_CONFIG`` names in the service's own environment), with an
   optional ``[service.<profile>]`` table for one profile;
2. ``<var>/service/settings.toml`` (the service's own folder, readable only by
   its OS user in the multi-user profile), which overrides the first.

A client may ask for a *higher* suppression threshold than ``min_cell``, never
a lower one.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from regionlab.config import Config, current
from regionlab.errors import UserError
from regionlab.profiles import config_path
from regionlab.research.disclosure import DisclosureSettings

SETTINGS_FILE = "settings.toml"
DEFAULT_PORT = 8765


class OidcSettings(BaseModel):
    """The region's identity provider; all three URLs/names empty = OIDC off."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    issuer: str = ""
    """The ``iss`` every accepted token carries."""
    audience: str = ""
    """The ``aud`` the service's tokens are issued for."""
    jwks_url: str = ""
    """Where the provider's signing keys are (``https://…/jwks`` or ``file://…``)."""
    role_claim: str = "regionlab_role"
    """Claim holding the caller's regionlab role (a string or a list of strings)."""
    algorithms: tuple[str, ...] = ("RS256",)
    leeway_seconds: int = Field(30, ge=0, le=300)

    @property
    def enabled(self) -> bool:
        return bool(self.issuer and self.audience and self.jwks_url)


class ServiceSettings(BaseModel):
    """What the service enforces and where it listens."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    min_cell: int = Field(5, ge=2, le=1000)
    """The threshold floor: counts below it are never shown, whatever the client asks."""
    airlock_zeros: Literal["allow", "review", "fail"] = "review"
    """Zero counts in a submitted output: released, queued for an output checker, or
    rejected (class disclosure; ACRO treats them as disclosive by default)."""
    rounding: int = Field(1, ge=1, le=100)
    """Shown counts are rounded to a multiple of this (1: exact), after suppression."""
    host: str = "127.0.0.1"
    port: int = Field(DEFAULT_PORT, ge=0, le=65535)
    idle_seconds: int = Field(1800, ge=0)
    """An embedded service started on demand stops after this long without a request
    (0: never). ``regionlab serve`` in the foreground ignores it."""
    copy_lake: bool = True
    """Keep the newest snapshot's cohort columns in memory (``service.snapshot_copy``) and
    answer feasibility queries from that copy; off: every query reads the lake."""
    oidc: OidcSettings = OidcSettings()
    disclosure: DisclosureSettings = DisclosureSettings()
    """The differencing defence (``[service.disclosure]``): budget, lockout, near-identical
    answers, keyed noise. On unless the service's own settings switch it off (tests of the
    exact counting path do, in their own ``var/service/settings.toml``)."""


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except tomllib.TOMLDecodeError as exc:
        raise UserError(f"{path} is not valid TOML: {exc}") from None


def _merge(base: dict[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = _merge(dict(out[key]), value)
        else:
            out[key] = value
    return out


def settings_file(config: Config | None = None) -> Path:
    """``<var>/service/settings.toml``: the server-side file that overrides regionlab.toml."""
    return (config or current()).settings.service_dir / SETTINGS_FILE


def load_service_settings(config: Config | None = None) -> ServiceSettings:
    """The settings from ``regionlab.toml``'s ``[service]`` table and the service's own file."""
    config = config or current()
    toml_path = config_path()
    service = _read_toml(toml_path).get("service", {})
    if not isinstance(service, dict):
        raise UserError(f"{toml_path}: [service] must be a table")
    profiles = {"embedded", "multiuser", config.profile.name}
    merged = {k: v for k, v in service.items() if k not in profiles}
    per_profile = service.get(config.profile.name)
    if isinstance(per_profile, dict):
        merged = _merge(merged, per_profile)
    local = settings_file(config)
    merged = _merge(merged, _read_toml(local))
    try:
        return ServiceSettings.model_validate(merged)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}"
            for e in exc.errors(include_url=False, include_input=False)
        )
        raise UserError(f"service settings ({toml_path} [service], {local}): {problems}") from None


__all__ = [
    "DEFAULT_PORT",
    "OidcSettings",
    "ServiceSettings",
    "load_service_settings",
    "settings_file",
]
