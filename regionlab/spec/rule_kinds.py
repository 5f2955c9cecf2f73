"""The rule-kind registry: every quality rule type with all of its projections, checked.

A rule type is one pydantic model in :mod:`regionlab.spec.rules` that also
says, in the same class, how it reads everywhere the platform uses it:

- ``dimension`` — its ODCS quality dimension (the data contracts);
- ``default_description()`` — what it checks, in words, when the steward wrote none;
- ``row_predicate(product, day)`` — SQL selecting the rows that fail it, for
  ``quarantine: true`` (None: the rule does not judge single rows);
- ``expectation(product, day)`` — its Great Expectations expectation, declared
  as an :class:`Expectation` (class name and arguments) so the core needs no
  GX import; ``quality.suites`` builds the GX object (None: not a GX rule);
- ``cross_check(ctx)`` — its SQL over the lake for rules that read another
  table (foreign keys, death dates, the load log), as a :class:`CrossOutcome`
  (None: not a cross-table rule);
- ``reference()`` — the other product (and its column) the rule reads, for
  Dagster's check dependencies and the spec's cross-file checks;
- ``odcs_check(product)`` — the rule as a check a data-contract consumer can run
  (ODCS ``library`` metric or ``sql`` query with its comparator, as a plain
  mapping), or None where no ODCS form fits (the contract then carries it as
  ``custom``, run by the platform only).

:func:`register_rule_kind` refuses a type that leaves any projection
undeclared (inheriting the base's is not declaring it) or that is neither GX
nor cross-table; built-in types go through it at import, and a new type —
even one defined in a test — is one class and one call.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated, Any, Union

import duckdb
from pydantic import Field

from regionlab.platform.tables import LOAD_LOG, lake_table_exists
from regionlab.results import Status

if TYPE_CHECKING:
    from regionlab.spec.models import Product

#: The projections every rule type must declare itself.
PROJECTIONS = (
    "dimension",
    "default_description",
    "row_predicate",
    "expectation",
    "cross_check",
    "reference",
    "odcs_check",
)

#: ODCS v3 quality dimensions a rule type may name.
DIMENSIONS = frozenset(
    {"accuracy", "completeness", "conformity", "consistency", "coverage", "timeliness",
     "uniqueness"}
)  # fmt: skip

#: Subtracted from ``mostly`` so a failure share exactly at the threshold passes even
#: when ``1 - threshold`` rounds up in binary floating point (e.g. 1 - 0.07). Far
#: below one row in a billion, far above float rounding (~1e-16).
_MOSTLY_EPSILON = 1e-12


def mostly(threshold: float) -> float:
    """GX ``mostly`` for a rule threshold (share of rows allowed to fail)."""
    if threshold <= 0:
        return 1.0
    return max(0.0, 1.0 - threshold - _MOSTLY_EPSILON)


@dataclass(frozen=True)
class Expectation:
    """A GX expectation by name: ``great_expectations.expectations.<name>(**kwargs)``.

    How to read its outcome: ``counts_rows`` for a table-level expectation whose
    count is the table's rows (no failing rows); ``allowed`` the failing share
    shown in the detail (default: the rule's threshold); ``skips_empty`` when
    GX leaves empty values out of the share it judges.
    """

    name: str
    kwargs: dict[str, Any] = field(default_factory=dict)
    counts_rows: bool = False
    allowed: float | None = None
    skips_empty: bool = True


@dataclass(frozen=True)
class CrossOutcome:
    """What a cross-table rule found: counts and a detail in words, never values."""

    status: Status
    unexpected: int | None = None
    total: int | None = None
    detail: str = ""


@dataclass
class CrossContext:
    """What a cross-table rule may read: the staged rows and the lake (attached as ``lake``)."""

    con: duckdb.DuckDBPyConnection
    staged: str
    product: Product
    reference_date: dt.date

    def table(self, ref: str) -> str | None:
        """The table holding ``ref``: the staged rows for a self-reference, else the lake's
        (None when the lake has no such table yet)."""
        if ref == self.product.ref:
            return self.staged
        domain, name = ref.split("/")
        if not lake_table_exists(self.con, domain, name):
            return None
        from regionlab.sql import quote_ident

        return f"lake.{quote_ident(domain)}.{quote_ident(name)}"

    def newest_loaded(self, product_ref: str) -> dt.date | None:
        """The newest extract date in the load log for a product (None: none loaded)."""
        if not LOAD_LOG.exists(self.con):
            return None
        row = self.con.execute(
            f"SELECT max(extract_date) FROM {LOAD_LOG.qualified} WHERE product = ?",
            [product_ref],
        ).fetchone()
        return row[0] if row else None

    def judged(self, threshold: float, sql: str) -> CrossOutcome:
        """The outcome of a query returning ``(total, unexpected)``, judged by ``threshold``."""
        total, unexpected = (int(n) for n in self.con.execute(sql).fetchone())
        return CrossOutcome(
            judge(threshold, unexpected, total),
            unexpected,
            total,
            count_detail(unexpected, total, threshold),
        )


def judge(threshold: float, unexpected: int, total: int) -> Status:
    """Pass when the failing share is within the threshold (exactly at it passes)."""
    return Status.passed if unexpected <= threshold * total + 1e-9 else Status.failed


def count_detail(
    unexpected: int | None,
    element_count: int | None,
    threshold: float,
    *,
    not_judged: int = 0,
) -> str:
    """ "3 of 1200 rows fail (0.25%); allowed 2.00%" — numbers only.

    ``not_judged`` rows (empty values a rule skips) are left out of the share,
    as GX leaves them out of ``mostly``.
    """
    if unexpected is None or element_count is None:
        return ""
    judged = element_count - not_judged
    share = unexpected / judged if judged else 0.0
    if not_judged:
        text = f"{unexpected} of {judged} non-empty values fail ({share:.2%}; {element_count} rows)"
    else:
        text = f"{unexpected} of {element_count} rows fail ({share:.2%})"
    if threshold > 0:
        text += f"; allowed {threshold:.2%}"
    return text


# --- the registry ---------------------------------------------------------------------


def not_applicable(self: object, *args: object) -> None:
    """A projection that does not apply to a rule type: declared, on purpose, as such."""
    return None


def is_cross_rule(rule: object) -> bool:
    """True for rules checked by SQL over the lake (cross-table) instead of GX."""
    return type(rule).cross_check is not not_applicable  # type: ignore[attr-defined]


def is_row_level(rule: object) -> bool:
    """True for rules that can judge (and quarantine) single rows."""
    return type(rule).row_predicate is not not_applicable  # type: ignore[attr-defined]


_KINDS: dict[str, type] = {}
_BASE: list[type] = []


class RuleKindError(TypeError):
    """A rule type that does not declare everything the platform needs of it."""


def set_base(base: type) -> None:
    """The base class whose placeholder projections count as undeclared."""
    _BASE[:] = [base]


def type_name(cls: type) -> str:
    return cls.model_fields["type"].annotation.__args__[0]  # type: ignore[attr-defined]


def missing_projections(cls: type) -> list[str]:
    """Projections ``cls`` inherits from the base instead of declaring."""
    base = _BASE[0]
    return [p for p in PROJECTIONS if getattr(cls, p, None) is getattr(base, p, None)]


def register_rule_kind(cls: type) -> type:
    """Add a rule type (a class decorator); refuses one with an undeclared projection."""
    missing = missing_projections(cls)
    if missing:
        raise RuleKindError(f"rule type {cls.__name__} does not declare {', '.join(missing)}")
    if (cls.expectation is not_applicable) == (cls.cross_check is not_applicable):
        raise RuleKindError(
            f"rule type {cls.__name__} must be checked by exactly one of expectation (GX) "
            "and cross_check (SQL over the lake)"
        )
    if cls.dimension not in DIMENSIONS:
        raise RuleKindError(f"rule type {cls.__name__}: unknown ODCS dimension {cls.dimension!r}")
    _KINDS[type_name(cls)] = cls
    return cls


def unregister_rule_kind(cls: type) -> None:
    _KINDS.pop(type_name(cls), None)


def rule_kinds() -> dict[str, type]:
    """Every registered rule type, by its ``type`` name, in registration order."""
    return dict(_KINDS)


def rule_union() -> Any:
    """The discriminated union of every registered rule type (the spec's ``quality`` items)."""
    return Annotated[Union[tuple(_KINDS.values())], Field(discriminator="type")]  # noqa: UP007


def rebuild_spec_models() -> None:
    """Let product specs use the registered types (after registering one at run time)."""
    from regionlab.spec import models

    models.Product.model_fields["quality"].annotation = list[rule_union()]
    models.Product.model_rebuild(force=True)
    models.Registry.model_rebuild(force=True)


#: A projection of a rule onto SQL text given the product and the reference date.
Predicate = Callable[["Product", dt.date], str | None]
