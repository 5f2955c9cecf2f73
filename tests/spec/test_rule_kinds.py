"""The rule-kind registry: every rule type declares every projection, and a new one is one class.

``MaxLength`` below is a rule type the platform does not ship. It is defined and
registered here, in this one module, and from then on a steward can write it in
a product spec and the engine quarantines its failing rows, Great Expectations
checks it, the Dagster asset declares its check and the data contract carries it
as a check a consumer runs — without touching any other module.
"""

from __future__ import annotations

import datetime as dt
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Literal

import pytest
import yaml

from regionlab.spec import rule_kinds
from regionlab.spec.rule_kinds import (
    DIMENSIONS,
    Expectation,
    RuleKindError,
    not_applicable,
    rebuild_spec_models,
    register_rule_kind,
    unregister_rule_kind,
)
from regionlab.spec.rule_kinds import (
    rule_kinds as registered,
)
from regionlab.spec.rules import _ColumnRule
from regionlab.sql import quote_ident

REPO = Path(__file__).resolve().parents[2]


def test_every_rule_type_declares_every_projection() -> None:
    kinds = registered()
    assert len(kinds) >= 14
    for name, cls in kinds.items():
        assert rule_kinds.missing_projections(cls) == [], name
        assert cls.dimension in DIMENSIONS, name
        gx = cls.expectation is not not_applicable
        sql = cls.cross_check is not not_applicable
        assert gx != sql, f"{name} must be checked by GX or by SQL over the lake, not both"


def test_a_rule_type_missing_a_projection_is_refused() -> None:
    class Incomplete(_ColumnRule):
        type: Literal["incomplete"]
        dimension = "conformity"

        def default_description(self) -> str:
            return "incomplete"

        row_predicate = not_applicable
        cross_check = not_applicable
        reference = not_applicable
        odcs_check = not_applicable
        # no expectation: neither GX nor SQL would ever check it

    with pytest.raises(RuleKindError, match="does not declare expectation"):
        register_rule_kind(Incomplete)
    assert "incomplete" not in registered()


def test_a_rule_type_checked_twice_or_never_is_refused() -> None:
    class Nowhere(_ColumnRule):
        type: Literal["nowhere"]
        dimension = "conformity"

        def default_description(self) -> str:
            return "nowhere"

        row_predicate = not_applicable
        expectation = not_applicable
        cross_check = not_applicable
        reference = not_applicable
        odcs_check = not_applicable

    with pytest.raises(RuleKindError, match="exactly one of expectation"):
        register_rule_kind(Nowhere)


# --- a new rule type, added here and nowhere else --------------------------------------


class MaxLength(_ColumnRule):
    """Text no longer than ``max`` characters."""

    type: Literal["max_length"]
    max: int
    dimension = "conformity"

    def default_description(self) -> str:
        return f"{self.column} has at most {self.max} characters."

    def row_predicate(self, product, day: dt.date) -> str | None:
        return f"length({quote_ident(self.column)}) > {int(self.max)}"

    def expectation(self, product, day: dt.date) -> Expectation | None:
        return Expectation(
            "ExpectColumnValueLengthsToBeBetween",
            {"column": self.column, "max_value": self.max, **self._row_level()},
        )

    cross_check = not_applicable
    reference = not_applicable

    def odcs_check(self, product) -> dict[str, object] | None:
        failing = f"length({quote_ident(self.column)}) > {int(self.max)}"
        return {"type": "sql", "query": f"SELECT count(*) FROM ${{table}} WHERE {failing}",
                "mustBe": 0}  # fmt: skip


@pytest.fixture
def max_length() -> Iterator[type[MaxLength]]:
    register_rule_kind(MaxLength)
    rebuild_spec_models()
    yield MaxLength
    unregister_rule_kind(MaxLength)
    rebuild_spec_models()


@pytest.mark.slow
def test_a_new_rule_type_is_one_class(
    max_length, keyed_var, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pipelines.quality_hook import check_names, quality_hook
    from regionlab.spec import load_domains
    from regionlab.synth.generate import generate
    from regionlab.wap.engine import run_source_product

    # A steward writes the new type in a spec; `regionlab check` accepts it.
    domains = tmp_path / "domains"
    shutil.copytree(REPO / "domains", domains)
    spec_file = domains / "initiatives" / "initiatives.yaml"
    spec = yaml.safe_load(spec_file.read_text(encoding="utf-8"))
    spec["quality"].append(
        {"id": "name_short", "type": "max_length", "column": "name", "max": 40,
         "kahn": "conformance", "severity": "warning", "quarantine": True}
    )  # fmt: skip
    spec_file.write_text(yaml.safe_dump(spec, allow_unicode=True), encoding="utf-8")
    monkeypatch.setenv("REGIONLAB_DOMAINS", str(domains))
    product = load_domains(domains).product("initiatives/initiatives")
    rule = product.quality[-1]
    assert isinstance(rule, MaxLength)

    # The Dagster asset declares its check; the data contract carries it, runnable.
    assert ("name_short", "name has at most 40 characters.", False) in check_names(product)
    from catalog.odcs import _rule

    contract_rule = _rule(rule, product)
    assert contract_rule["dimension"] == "conformity"
    assert contract_rule["type"] == "sql" and contract_rule["mustBe"] == 0

    # The engine quarantines the failing rows and GX checks the rest.
    generate(out=keyed_var.sources_dir, persons=50, seed=3, defect_rate=0.0,
             as_of=dt.date(2026, 11, 1), deliveries=1)  # fmt: skip
    run = run_source_product(product, keyed_var, quality_hook=quality_hook)
    assert run.status == "published", run.blocking_failures
    assert run.quarantined["rule:name_short"] > 0
    [result] = [c for c in run.checks if c.check == "name_short"]
    assert result.passed and result.unexpected_count == 0
    assert result.description == "name has at most 40 characters."
