"""Data permits: which project may see which products, columns and people, until when.

A permit is written as ``permits/<project>.yaml`` (reviewed like code), checked
against the product specs, applied for with ``regionlab permit apply`` and
registered when an access officer approves it
(:mod:`regionlab.research.permit_workflow`). The registered copy under
``<var>/research/permits/`` is self-contained: a cohort
given as a file is inlined, so editing ``cohorts/x.yaml`` later cannot widen
a permit that was already granted. Workspaces are built from registered
permits only.
"""

from __future__ import annotations

import hashlib
import json
from datetime import date
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from regionlab.errors import UserError
from regionlab.platform.private_files import write_private
from regionlab.privacy.identifiers import EMAIL
from regionlab.research.cohort import Cohort, cohort_from_mapping, load_cohort, validation_message
from regionlab.research.cohort_sql import current_registry
from regionlab.settings import PROJECT_ROOT, get_settings
from regionlab.spec import Registry
from regionlab.spec.problems import did_you_mean

PROJECT_ID = r"^[a-z][a-z0-9-]{1,62}$"


def research_dir() -> Path:
    """``<var>/research``: registered permits, workspaces and the audit log."""
    return get_settings().research_dir


def permits_dir() -> Path:
    return get_settings().permits_dir


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Applicant(_Model):
    name: str = Field(min_length=1)
    email: str = Field(pattern=f"^(?:{EMAIL.core})$")


class ProductGrant(_Model):
    """One product and the published columns the project may read."""

    product: str = Field(description="Product ref <domain>/<product>, e.g. laboratory/lab_results.")
    columns: list[str] = Field(min_length=1)

    @field_validator("columns")
    @classmethod
    def _unique(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise ValueError("a column is listed twice; list each once")
        return value


#: Smallest per-person shift window (days, either way) for each coarsening granularity:
#: 100 units of the granularity (182 for day, the shift default). Two projects' coarsened
#: dates agree for a person with probability about granularity / (2 * window), so this keeps
#: the linkage attack on exact values plus coarsened dates at or below 1 % (measured in
#: ``tests/research/test_workspace_linkage.py``: day 182, week 700, month 3000).
MIN_COARSEN_SHIFT_DAYS: dict[str, int] = {"day": 182, "week": 700, "month": 3000}


class DateProtection(_Model):
    """How dates and timestamps reach the workspace, so two projects' files cannot be joined.

    ``shift`` (the default) moves every date of a person by the same number of
    days, derived from the project key and the person (never 0, at most
    ``max_shift_days`` either way): intervals within a person are exact, calendar
    dates are not. ``coarsen`` shifts the same way and then truncates to the
    granted ``granularity`` (day, week or month: its first day), so intervals are
    kept only to that granularity (exact lengths of stay no longer link either).
    It does **not** keep calendar time: truncating true dates let exact values plus
    the month link 599 of 600 persons between projects, and a 182-day shift before
    a month truncation still 11 %, so the window is at least 100 units of the
    granularity (week 700 days, month 3000; :data:`MIN_COARSEN_SHIFT_DAYS`, the
    default for coarsen). An analysis
    that needs true calendar time gets it through the service's aggregate answers,
    not a workspace.
    """

    method: Literal["shift", "coarsen"] = "shift"
    granularity: Literal["day", "week", "month"] | None = Field(
        None, description="coarsen only: the finest unit a date may keep."
    )
    max_shift_days: int = Field(
        182,
        ge=7,
        le=3650,
        description="the largest per-person shift in days, either way (coarsen: at least "
        "100 units of the granularity, which is its default).",
    )

    @model_validator(mode="before")
    @classmethod
    def _coarsen_default(cls, data: Any) -> Any:
        if (
            isinstance(data, dict)
            and data.get("method") == "coarsen"
            and data.get("max_shift_days") is None
            and data.get("granularity") in MIN_COARSEN_SHIFT_DAYS
        ):
            return {**data, "max_shift_days": MIN_COARSEN_SHIFT_DAYS[data["granularity"]]}
        return data

    @model_validator(mode="after")
    def _consistent(self) -> DateProtection:
        if self.method == "coarsen" and self.granularity is None:
            raise ValueError("method coarsen needs a granularity: day, week or month")
        if self.method == "shift" and self.granularity is not None:
            raise ValueError("granularity applies to method coarsen only; remove it or coarsen")
        if self.method == "coarsen" and self.granularity is not None:
            least = MIN_COARSEN_SHIFT_DAYS[self.granularity]
            if self.max_shift_days < least:
                raise ValueError(
                    f"coarsen to {self.granularity} needs max_shift_days of at least {least} "
                    "(100 units of the granularity keep cross-project linkage at or below 1 %); "
                    "raise it or leave it out (that is the default)"
                )
        return self


class Permit(_Model):
    """A granted data permit (see ``permits/*.yaml`` for examples)."""

    project_id: str = Field(pattern=PROJECT_ID, description="e.g. t2d-hba1c-2026")
    title: str = Field(min_length=1)
    applicant: Applicant
    organisation: str = Field(min_length=1)
    purpose: str = Field(min_length=1)
    legal_basis: str = Field(min_length=1)
    products: list[ProductGrant] = Field(min_length=1)
    cohort: Cohort | str = Field(description="Inline cohort or a path to cohorts/<name>.yaml.")
    expires: date
    dates: DateProtection = Field(
        default_factory=DateProtection,
        description="Linkage protection of dates and timestamps (default: a per-person shift).",
    )

    @field_validator("cohort", mode="before")
    @classmethod
    def _cohort(cls, value: Any) -> Any:
        # A mapping is validated by the cohort loader, which names the field itself.
        return cohort_from_mapping(value, "cohort") if isinstance(value, dict) else value

    @property
    def inline_cohort(self) -> Cohort:
        if not isinstance(self.cohort, Cohort):
            raise ValueError("cohort not resolved; use load_permit()")
        return self.cohort

    def grant(self, ref: str) -> ProductGrant | None:
        return next((g for g in self.products if g.product == ref), None)

    def expired(self, today: date | None = None) -> bool:
        """A permit is valid up to and including its expiry day."""
        return (today or date.today()) > self.expires

    def fingerprint(self) -> str:
        text = json.dumps(self.model_dump(mode="json", by_alias=True), sort_keys=True)
        return hashlib.sha256(text.encode("utf-8")).hexdigest()

    def to_yaml(self) -> str:
        data = self.model_dump(mode="json", by_alias=True, exclude_none=True)
        return yaml.safe_dump(data, sort_keys=False, allow_unicode=True)


def _permit_message(exc: ValidationError, where: str) -> str:
    return validation_message(exc, where)


def spec_problems(
    grants: list[tuple[int, ProductGrant]], where: str, registry: Registry | None = None
) -> list[str]:
    """Every product and column of the grants that is not published, one line each."""
    registry = registry or current_registry()
    problems: list[str] = []
    seen: set[str] = set()
    for i, grant in grants:
        field = f"{where}: products[{i}]"
        if grant.product in seen:
            problems.append(f"{field}.product: {grant.product} is listed twice; merge the entries")
            continue
        seen.add(grant.product)
        if grant.product not in registry.products:
            close = did_you_mean(grant.product, set(registry.products))
            hint = f" ({close})" if close else ""
            problems.append(
                f"{field}.product: unknown product {grant.product!r}{hint}; use "
                "<domain>/<product> as declared under domains/"
            )
            continue
        if not registry.products[grant.product].offered:
            problems.append(
                f"{field}.product: {grant.product} is a draft (status: draft in its spec) and "
                "is not offered to researchers; remove it from the permit, or ask its steward "
                "to set status: active"
            )
            continue
        published = [c.name for c in registry.products[grant.product].published_columns]
        unknown = [c for c in grant.columns if c not in published]
        if unknown:
            problems.append(
                f"{field}.columns: {', '.join(unknown)} not published by {grant.product}; "
                f"choose from {', '.join(published)}"
            )
    return problems


def check_against_specs(permit: Permit, where: str, registry: Registry | None = None) -> None:
    """Products and columns must exist as published; one UserError names every offending field."""
    problems = spec_problems(list(enumerate(permit.products)), where, registry)
    if problems:
        raise UserError("\n".join(problems))


#: Stands in for an invalid inline cohort (already reported) while the rest is validated.
_SEE_ABOVE = "(inline cohort, see above)"


def _valid_grants(data: dict[str, Any]) -> list[tuple[int, ProductGrant]]:
    """The entries of ``products`` that are well-formed, by index, from a permit that may not be."""
    raw = data.get("products")
    grants = []
    for i, item in enumerate(raw if isinstance(raw, list) else []):
        try:
            grants.append((i, ProductGrant.model_validate(item)))
        except ValidationError:
            continue  # reported by the permit's own validation
    return grants


def load_permit(
    path: Path | str, *, registry: Registry | None = None, expires_after: date | None = None
) -> Permit:
    """Read, validate and resolve a permit file (the cohort file is inlined).

    Every problem is reported at once, one line each: the schema's, the inline
    cohort's, the products and columns against the specs and, with
    ``expires_after``, an expiry not after that day.
    """
    path = Path(path)
    if not path.is_file():
        raise UserError(f"permit file {path} does not exist; check the path")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        raise UserError(f"{path}{where}: not valid YAML; fix the indentation or quoting") from None
    if not isinstance(data, dict):
        raise UserError(f"{path}: a permit must be a mapping (project_id, applicant, ...)")
    problems: list[str] = []
    if isinstance(data.get("cohort"), dict):  # checked here so its problems join the others
        try:
            cohort_from_mapping(data["cohort"], "cohort")
        except UserError as exc:
            problems += [f"{path}: {line}" for line in str(exc).splitlines()]
            data = {**data, "cohort": _SEE_ABOVE}
    permit: Permit | None = None
    try:
        permit = Permit.model_validate(data)
    except ValidationError as exc:
        problems += _permit_message(exc, str(path)).splitlines()
    problems += spec_problems(_valid_grants(data), str(path), registry)
    if permit is not None and expires_after is not None and permit.expires <= expires_after:
        problems.append(
            f"{path}: expires: {permit.expires.isoformat()} is not in the future; a permit must "
            "be registered before it expires — ask for a new expiry date"
        )
    if permit is not None and isinstance(permit.cohort, str) and permit.cohort != _SEE_ABOVE:
        try:
            permit = permit.model_copy(update={"cohort": _resolve_cohort_file(permit.cohort, path)})
        except UserError as exc:
            problems += str(exc).splitlines()
    if problems or permit is None:
        raise UserError("\n".join(problems))
    return permit


def _resolve_cohort_file(ref: str, permit_path: Path) -> Cohort:
    """A cohort path is tried beside the permit, then from the repository root."""
    for base in (permit_path.parent, PROJECT_ROOT, Path.cwd()):
        candidate = (base / ref).resolve()
        if candidate.is_file():
            return load_cohort(candidate)
    raise UserError(
        f"{permit_path}: cohort: file {ref!r} not found beside the permit or in the repository; "
        "fix the path or write the cohort inline"
    )


def registered_path(project_id: str) -> Path:
    return permits_dir() / f"{project_id}.yaml"


def register_permit_object(permit: Permit, *, replace: bool = False, today: date) -> Permit:
    """Store a resolved permit as registered; called by an officer's approval only."""
    check_against_specs(permit, f"permit {permit.project_id}")
    if permit.expires <= today:
        raise UserError(
            f"permit {permit.project_id}: expires: {permit.expires.isoformat()} is not in the "
            "future; a permit must be registered before it expires"
        )
    target = registered_path(permit.project_id)
    if target.exists() and not replace:
        raise UserError(
            f"permit {permit.project_id} is already registered ({target}); an access officer "
            "approves the new version with --replace (its workspace must then be rebuilt)"
        )
    write_private(target, permit.to_yaml())
    return permit


def register_permit(
    path: Path | str, *, replace: bool = False, today: date | None = None
) -> Permit:
    """Validate a permit file and store its resolved copy, with no application.

    For tests and the benchmark's own lake only: on the platform a permit is
    registered by an access officer's approval (:func:`permit_workflow.approve`).
    """
    permit = load_permit(path, expires_after=today or date.today())
    return register_permit_object(permit, replace=replace, today=today or date.today())


def get_permit(project_id: str) -> Permit:
    """The registered permit of a project."""
    target = registered_path(project_id)
    if not target.is_file():
        raise UserError(
            f"no registered permit for project {project_id!r}; apply with "
            "`regionlab permit apply permits/<project>.yaml` and ask an access officer to approve"
        )
    data = yaml.safe_load(target.read_text(encoding="utf-8"))
    try:
        return Permit.model_validate(data)
    except ValidationError as exc:
        raise UserError(_permit_message(exc, str(target))) from None


def list_permits() -> list[Permit]:
    """Every registered permit, by project id."""
    folder = permits_dir()
    if not folder.is_dir():
        return []
    return [get_permit(p.stem) for p in sorted(folder.glob("*.yaml"))]


__all__ = [
    "Applicant",
    "DateProtection",
    "Permit",
    "ProductGrant",
    "check_against_specs",
    "spec_problems",
    "get_permit",
    "list_permits",
    "load_permit",
    "permits_dir",
    "register_permit",
    "register_permit_object",
    "registered_path",
    "research_dir",
]
