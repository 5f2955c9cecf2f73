"""The streaming product kind: what `regionlab check` says about a stream section."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from regionlab.spec.loader import collect
from tests.spec.conftest import edit

SPEC = "laboratory/epj_observations.yaml"
Problems = Callable[[Path], list[str]]


def test_the_demo_stream_loads_as_a_stream_outside_the_batch_order(domains_copy: Path) -> None:
    registry, problems = collect(domains_copy)
    assert problems == []
    product = registry.product("laboratory/epj_observations")
    assert product.is_stream and product.person_column == "cpr"
    assert product.stream is not None and product.stream.freshness.max_lag_seconds == 5
    assert "laboratory/epj_observations" not in [p.ref for p in registry.batch_order()]
    assert [p.ref for p in registry.streams()] == ["laboratory/epj_observations"]
    assert product.published("person_key") is not None


def test_an_unmapped_column_and_an_unknown_element_are_named(
    domains_copy: Path, problems_of: Problems
) -> None:
    path = domains_copy / SPEC
    edit(path, "    note: note[0].text\n", "")
    edit(path, "status: status\n", "status: statuz\n")
    found = problems_of(domains_copy)
    assert any("columns[note]: not read from the events" in p for p in found), found
    assert any("stream.mapping.status: 'statuz' is not an element of Observation" in p
               for p in found), found  # fmt: skip


def test_a_set_level_rule_and_a_kept_cpr_are_refused(
    domains_copy: Path, problems_of: Problems
) -> None:
    path = domains_copy / SPEC
    edit(
        path,
        "quality:\n",
        "quality:\n  - {id: rows, type: row_count_between, min: 1, kahn: completeness}\n",
    )
    edit(path, "    pseudonymisation: person_key\n    nullable: false\n",
         "    nullable: false\n")  # fmt: skip
    found = problems_of(domains_copy)
    assert any("quality[0]: 'rows' (row_count_between) is not judged per event" in p
               for p in found), found  # fmt: skip
    assert any("the CPR column must become the person key" in p for p in found), found


def test_a_bad_path_is_a_schema_error(domains_copy: Path, problems_of: Problems) -> None:
    edit(domains_copy / SPEC, "code: code.coding[0].code", "code: code..coding")
    found = "\n".join(problems_of(domains_copy))
    assert "mapping.code: 'code..coding' is not a path" in found


def test_a_stream_that_is_also_derived_is_refused(
    domains_copy: Path, problems_of: Problems
) -> None:
    edit(domains_copy / SPEC, "row_key: [observation_id]", "derived: {upstream: "
         "[laboratory/lab_results], sql: SELECT 1}\nrow_key: [observation_id]")  # fmt: skip
    found = "\n".join(problems_of(domains_copy))
    assert "give exactly one of `source` (extracts), `derived` (SQL) or `stream`" in found


def test_a_cross_product_rule_is_scheduled_and_must_not_block(
    domains_copy: Path, problems_of: Problems
) -> None:
    path = domains_copy / SPEC
    assert not problems_of(domains_copy)  # the demo's two scheduled warning rules are fine
    rest = "\n    threshold: 0.02\n    description: >\n      Personen"
    edit(path, "    severity: warning" + rest, "    severity: blocking" + rest)
    found = problems_of(domains_copy)
    assert any("quality[6].severity: 'person_in_population' (foreign_key) is checked on a "
               "schedule over published events and cannot block them" in p
               for p in found), found  # fmt: skip
