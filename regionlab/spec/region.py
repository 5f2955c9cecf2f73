"""The region-wide catalogue facts of ``domains/catalog.yaml``, as a pydantic model.

Some HealthDCAT-AP and ODCS properties are the same for every product of the
region — the publisher, the health data access body, where to apply for
access, the catalogue's address, the language — so they live once, beside the
domains, instead of being repeated in every product spec.

The model lives in the spec package (not in ``catalog``) so that
``regionlab check`` validates the file with every other spec — a steward
learns about a typo when checking, not when an export fails — while imports
keep pointing one way (``regionlab`` ← ``catalog``). :func:`load_region` reads
it for the exports and the site.
"""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    EmailStr,
    Field,
    HttpUrl,
    ValidationError,
    field_validator,
)

from regionlab.errors import UserError
from regionlab.spec.problems import from_validation_error

CATALOG_FILE = "catalog.yaml"

#: HealthDCAT-AP publisher types (``.../resource/authority/publisher-type/<code>``).
PUBLISHER_TYPES = {
    "regional-authority",
    "national-authority",
    "public-health-org",
    "healthcare-providers",
    "other-government-agency",
    "stat-agency",
}
#: EU frequency authority table codes the region's deliveries use.
FREQUENCIES = {"DAILY", "WEEKLY", "MONTHLY", "QUARTERLY", "ANNUAL", "IRREG", "CONT"}


class _Config(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Agent(_Config):
    """An organisation with a way to reach it."""

    name: str
    type: str = Field(description="HealthDCAT-AP publisher type code, e.g. regional-authority.")
    email: EmailStr
    url: HttpUrl

    @field_validator("type")
    @classmethod
    def _known_type(cls, value: str) -> str:
        if value not in PUBLISHER_TYPES:
            raise ValueError(
                f"'{value}' is not a known publisher type; use one of "
                + ", ".join(sorted(PUBLISHER_TYPES))
            )
        return value


class Access(_Config):
    """How a researcher applies for access to non-public products."""

    how_to_apply: str
    application_url: HttpUrl
    email: EmailStr
    service_url: HttpUrl | None = Field(
        None,
        description="Base address of the region's access service; the catalogue links its "
        "access application (/permits/apply) from every non-public product.",
    )


class RegionCatalogue(_Config):
    """``domains/catalog.yaml``: facts shared by every product of the region's catalogue."""

    publisher: Agent
    hdab: Agent = Field(description="The health data access body that grants data permits.")
    access: Access
    catalogue_url: HttpUrl = Field(description="Public address of the catalogue site.")
    mail_domain: str = Field(description="Owners' e-mail domain (owners are named by local part).")
    language: str = Field("DAN", pattern=r"^[A-Z]{3}$", description="EU language code.")
    country: str = Field("DNK", pattern=r"^[A-Z]{3}$", description="EU country code.")
    frequency: str = Field("MONTHLY", description="EU frequency code of the extract deliveries.")
    lake_server: str = Field(
        "regionlab-lake", description="Name of the lake's server in the data contracts."
    )

    @field_validator("frequency")
    @classmethod
    def _known_frequency(cls, value: str) -> str:
        if value not in FREQUENCIES:
            raise ValueError(f"'{value}' unknown; use one of {', '.join(sorted(FREQUENCIES))}")
        return value


def catalog_file(domains_dir: Path | None = None) -> Path:
    """``domains/catalog.yaml`` (of the active configuration's domains folder)."""
    if domains_dir is None:
        from regionlab.settings import get_settings

        domains_dir = get_settings().domains_dir
    return domains_dir / CATALOG_FILE


def load_region(path: Path | None = None) -> RegionCatalogue:
    """Read and validate ``domains/catalog.yaml`` for the exports and the site; a problem
    names the file, field and fix, as ``regionlab check`` reports it."""
    path = path or catalog_file()
    if not path.exists():
        raise UserError(
            f"no {CATALOG_FILE} at {path}: add the region's publisher, hdab, access and "
            "catalogue_url (copy domains/catalog.yaml from the repository)"
        )
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise UserError(f"{path}: not valid YAML ({exc}); fix the syntax") from exc
    try:
        return RegionCatalogue.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{p.field}: {p.message}" + (f" ({p.hint})" if p.hint else "")
            for p in from_validation_error(path, exc, data, RegionCatalogue)
        )
        raise UserError(f"{path}: {problems}; fix these fields") from None
