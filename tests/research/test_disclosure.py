"""The differencing defence's parts: normal form, edits, guard, lockout, noise, attrition."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from regionlab.errors import UserError
from regionlab.research import disclosure
from regionlab.research.disclosure import (
    LIFT_BUDGET,
    DisclosureSettings,
    Refused,
    Step,
    edits,
    guard,
    lift_lockout,
    normalise,
    perturb,
    protect_steps,
)
from regionlab.research.feasibility import feasibility
from regionlab.research.query_history import PastQuery
from tests.research.handbuilt import INDEX, VEJLE_COHORT, build_population_lake

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
SECRET = b"unit-test-secret-0123456789abcdef"


def vejle(**changes: Any) -> dict[str, Any]:
    return {**VEJLE_COHORT, **changes}


class History:
    def __init__(self, entries: list[PastQuery] | None = None) -> None:
        self.entries = entries or []

    def past_queries(self, user: str, *, since: datetime) -> list[PastQuery]:
        return [q for q in self.entries if q.user == user and q.at >= since]


def answered(
    definition: dict,
    *,
    at: datetime,
    user: str = "ann",
    project: str = "p1",
    dims: tuple[str, ...] = (),
    answer: dict | None = None,
) -> PastQuery:
    return PastQuery(at, user, project, definition, dims, 1, answer or {"total": 20})


# ------------------------------------------------------------------ normal form


def test_trivial_rewrites_normalise_to_one_definition() -> None:
    base = normalise(vejle())
    rewrites = [
        vejle(name="other_name", title="A title", description="words"),
        vejle(age={"min": 50, "max": 69}),  # the same bands
        vejle(municipality=["630", "Vejle"]),  # a name and a duplicate
        vejle(include=list(reversed(VEJLE_COHORT["include"]))),
        vejle(
            include=[{"kind": "diagnosis", "codes": ["DE119", "DE11"]}, VEJLE_COHORT["include"][1]]
        ),
        vejle(
            include=[
                {"kind": "diagnosis", "codes": ["DE11"], "diagnosis_type": ["B", "A"]},
                VEJLE_COHORT["include"][1],
            ]
        ),
        vejle(
            include=[
                VEJLE_COHORT["include"][0],
                {**VEJLE_COHORT["include"][1], "within": {"from": "-12m"}},
            ]
        ),
    ]
    for rewrite in rewrites:
        assert normalise(rewrite) == base, rewrite
    assert "name" not in base and base["index_date"] == INDEX.isoformat()
    assert base["age"] == {"min": 50, "max": 69}
    (lab,) = [c for c in base["include"] if c["kind"] == "lab"]
    assert lab["within"] == {"from": "-365d", "to": "0d"}


def test_the_index_date_is_kept_and_one_edit() -> None:
    plain = {"name": "a", "include": [{"kind": "diagnosis", "codes": ["DE11"]}]}
    first = normalise({**plain, "index_date": "2026-01-01"})
    later = normalise({**plain, "index_date": "2026-06-02"})
    assert first["index_date"] == "2026-01-01" and edits(first, later) == 1


def test_a_normalised_definition_can_be_counted_again() -> None:
    base = normalise(vejle())
    assert normalise(disclosure.cohort_of(base)) == base


# ------------------------------------------------------------------ edit distance


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"age": {"min": 55, "max": 70}}, 1),
        ({"sex": ["K"]}, 1),
        ({"municipality": ["630", "607"]}, 1),
        ({"index_date": "2026-11-02"}, 1),
        ({"alive_at_index": False}, 1),
        (
            {"exclude": [*VEJLE_COHORT["exclude"], {"kind": "medication", "atc": ["N02BE01"]}]},
            1,
        ),
        (
            {
                "include": [
                    VEJLE_COHORT["include"][0],
                    {**VEJLE_COHORT["include"][1], "within": {"from": "-364d"}},
                ]
            },
            1,
        ),
        (
            {"include": [VEJLE_COHORT["include"][0], {**VEJLE_COHORT["include"][1], "above": 54}]},
            1,
        ),
        ({"age": {"min": 55, "max": 70}, "sex": ["K"]}, 2),
        ({"include": []}, 2),
    ],
)
def test_edits_count_single_changes(change: dict[str, Any], expected: int) -> None:
    assert edits(normalise(vejle()), normalise(vejle(**change))) == expected


# ------------------------------------------------------------------ guard


def test_budget_refuses_after_the_allowance_and_an_officer_resets_it() -> None:
    settings = DisclosureSettings(budget=3)
    history = History(
        [answered({"q": i}, at=NOW - timedelta(days=i + 1)) for i in range(3)]
        + [answered({"old": 1}, at=NOW - timedelta(days=40))]  # outside the window
        + [answered({"q": 9}, at=NOW - timedelta(days=1), project="p2")]  # another project
    )
    ask = {"user": "ann", "project": "p1", "definition": normalise(vejle()), "dimensions": ()}
    decision = guard(history, **ask, now=NOW, settings=settings)
    assert decision.refused and decision.reason and decision.reason.startswith("budget:")
    with pytest.raises(Refused):
        decision.raise_if_refused()
    assert not guard(history, **{**ask, "user": "bob"}, now=NOW, settings=settings).refused
    # Refusals before counting are free; a near-identical refusal (after a count) is not.
    history.entries.pop(0)
    free = PastQuery(NOW - timedelta(hours=2), "ann", "p1", {}, (), 0, {}, refused="lockout: ...")
    history.entries.append(free)
    assert not guard(history, **ask, now=NOW, settings=settings).refused
    paid = PastQuery(
        NOW - timedelta(hours=2), "ann", "p1", {}, (), 0, {}, refused="near-identical: ..."
    )
    history.entries.append(paid)
    assert guard(history, **ask, now=NOW, settings=settings).refused
    reset = PastQuery(NOW - timedelta(hours=1), "ann", "p1", {}, (), 0, {}, refused=LIFT_BUDGET)
    history.entries.append(reset)
    assert guard(history, **ask, now=NOW, settings=settings).budget_left == 3


def test_lockout_after_n_repeats_and_the_officers_lift() -> None:
    settings = DisclosureSettings(lockout_after=3)
    normal = normalise(vejle())
    history = History([answered(normal, at=NOW - timedelta(hours=h)) for h in (5, 4, 3)])
    ask = {"user": "ann", "project": "p1", "definition": normal, "dimensions": ()}
    decision = guard(history, **ask, now=NOW, settings=settings)
    assert decision.refused and decision.reason and decision.reason.startswith("lockout:")
    # Another dimension split or another definition is another query.
    assert not guard(history, **{**ask, "dimensions": ("sex",)}, now=NOW, settings=settings).refused
    # A lift for another definition does not help; a lift for this one does.
    other = lift_lockout(user="ann", project="p1", definition={"x": 1}, officer="ao", now=NOW)
    history.entries.append(other)
    assert guard(history, **ask, now=NOW, settings=settings).refused
    lift = lift_lockout(
        user="ann", project="p1", definition=normal, officer="ao", now=NOW - timedelta(hours=1)
    )
    assert lift.refused == disclosure.LIFT_LOCKOUT
    history.entries.append(lift)
    assert not guard(history, **ask, now=NOW, settings=settings).refused
    # Asked three more times after the lift, it locks again.
    history.entries += [answered(normal, at=NOW - timedelta(minutes=m)) for m in (30, 20, 10)]
    assert guard(history, **ask, now=NOW, settings=settings).refused


def test_guard_lists_near_identical_queries_from_definitions_alone() -> None:
    settings = DisclosureSettings()
    wide = normalise(vejle())
    narrow = normalise(vejle(age={"min": 55, "max": 70}))
    far = normalise(
        vejle(age={"min": 55, "max": 70}, sex=["K"], municipality=["607"], alive_at_index=False)
    )
    history = History(
        [answered(far, at=NOW - timedelta(hours=3)), answered(wide, at=NOW - timedelta(hours=2))]
    )
    ask = {"user": "ann", "project": "p1", "definition": narrow, "dimensions": ()}
    decision = guard(history, **ask, now=NOW, settings=settings)
    assert decision.action == "reuse"
    assert [n.compare_with for n in decision.neighbours] == [wide]
    # A reused answer is compared with the definition it was computed for.
    reused = answered(
        narrow, at=NOW - timedelta(hours=1), answer={"total": 20, "reused": {"definition": far}}
    )
    history.entries.append(reused)
    decision = guard(history, **ask, now=NOW, settings=settings)
    assert decision.neighbours[0].compare_with == far
    assert guard(history, **ask, now=NOW, settings=None).action == "allow"
    # Another project of the same user is no clean slate; another user's queries are not seen.
    elsewhere = guard(history, **{**ask, "project": "p2"}, now=NOW, settings=settings)
    assert elsewhere.neighbours and elsewhere.budget_left == settings.budget
    assert not guard(history, **{**ask, "user": "bob"}, now=NOW, settings=settings).neighbours


# ------------------------------------------------------------------ noise


def test_keyed_noise_is_deterministic_bounded_below_and_rounded() -> None:
    settings = DisclosureSettings(noise_sd=2.0, rounding_base=5)
    shown = [perturb(40, h, secret=SECRET, threshold=5, settings=settings) for h in range(300)]
    assert all(v % 5 == 0 and v >= 5 for v in shown)
    assert len(set(shown)) > 1  # different people, different noise
    again = [perturb(40, h, secret=SECRET, threshold=5, settings=settings) for h in range(300)]
    assert shown == again  # same people, same noise
    other = [perturb(40, h, secret=b"x" * 32, threshold=5, settings=settings) for h in range(300)]
    assert shown != other  # the secret decides
    assert abs(sum(shown) / len(shown) - 40) < 1.5  # unbiased enough to be useful
    assert all(perturb(5, h, secret=SECRET, threshold=5, settings=settings) >= 5 for h in range(50))


def test_rephrasings_beyond_the_guard_get_the_same_noise(var_dir: Path) -> None:
    """Membership-keyed noise: no averaging even when the guard does not look."""
    build_population_lake()
    blind = DisclosureSettings(neighbour_edits=0)
    base = {
        "name": "t2d",
        "index_date": INDEX.isoformat(),
        "include": [{"kind": "diagnosis", "codes": ["DE11"]}],
    }
    shown = set()
    for extra in ([], ["DE1"], ["DE"], ["DE11", "DE119"]):
        cohort = {
            **base,
            "include": [*base["include"], *({"kind": "diagnosis", "codes": [c]} for c in extra)],
        }
        result = feasibility(cohort, user="ann", defence=blind, secret=SECRET)
        shown.add(result.total)
        assert result.protection is not None and result.protection.perturbed
    assert len(shown) == 1
    exact = feasibility(base, user="ann")
    assert isinstance(exact.total, int) and abs(next(iter(shown)) - exact.total) <= 12


def test_the_defence_needs_the_servers_secret(var_dir: Path) -> None:
    build_population_lake()
    base = {"name": "t2d", "include": [{"kind": "diagnosis", "codes": ["DE11"]}]}
    with pytest.raises(UserError, match="secret"):
        feasibility(base, user="ann", defence=DisclosureSettings(), secret=None)


# ------------------------------------------------------------------ attrition


def test_attrition_steps_hide_small_drops() -> None:
    settings = DisclosureSettings()

    def shown(counts: list[int]) -> list[int | str]:
        steps = [Step(f"s{i}", n, 1000 + i) for i, n in enumerate(counts)]
        return [v for _, v in protect_steps(steps, threshold=5, secret=SECRET, settings=settings)]

    for drop in range(5):  # a drop of 0..4 people reads the same
        assert shown([100, 100 - drop, 60, 3]) == shown([100, 100, 60, 3])
    out = shown([100, 96, 60, 3, 0])
    # 3 -> 0 is a drop of 3: the empty step reads "<5" too, so the drop is not told.
    assert out[1] == out[0] and out[3] == "<5" and out[4] == "<5"
    assert shown([100, 0]) == [out[0], 0]
    assert isinstance(out[2], int) and out[2] % 5 == 0 and out[2] != out[0]
    # A walk in small steps cannot drift: 94 is compared with 100 (the last step shown as
    # itself), not with 97, so it gets its own value.
    walk = shown([100, 97, 94])
    assert walk[1] == walk[0]
    assert walk[2] == perturb(94, 1002, secret=SECRET, threshold=5, settings=settings)
    plain = protect_steps(
        [Step("a", 10, 0), Step("b", 9, 0)], threshold=5, secret=None, settings=None
    )
    assert plain == [("a", 10), ("b", 10)]  # the small-drop rule holds with the defence off


def test_attrition_output_through_the_lake(var_dir: Path) -> None:
    """t2d_vejle: 8 pass the person filters, 6 have DE11, 4 the HbA1c, 3 are left."""
    from regionlab.research.attrition import attrition
    from tests.research.handbuilt import build_lake

    build_lake()
    off = attrition(VEJLE_COHORT, user="ann")
    # defence off: no noise, but a drop of 2 still reads 0 (two exact steps would give it)
    assert [v for _, v in off.steps] == [8, 8, 8, "<5"]
    guarded = attrition(
        VEJLE_COHORT,
        user="ann",
        defence=DisclosureSettings(noise_sd=0, rounding_base=1),
        secret=SECRET,
    )
    assert [v for _, v in guarded.steps] == [8, 8, 8, "<5"]
    full = attrition(VEJLE_COHORT, user="ann", defence=DisclosureSettings(), secret=SECRET)
    values = [v for _, v in full.steps]
    assert values[0] == values[1] == values[2] and values[3] == "<5"
    assert isinstance(values[0], int) and values[0] % 5 == 0
    assert full.answer["total"] == "<5" and len(full.answer["cells"]) == 4
    history = History()
    locked = DisclosureSettings(budget=1)
    history.entries.append(
        PastQuery(datetime.now(UTC), "ann", None, {"q": 1}, ("attrition",), 1, {"total": 1})
    )
    with pytest.raises(Refused, match="budget"):
        attrition(VEJLE_COHORT, user="ann", history=history, defence=locked, secret=SECRET)


def test_an_uncountable_old_entry_is_skipped_not_fatal(var_dir: Path) -> None:
    """A history entry whose definition no longer compiles does not break new queries."""
    build_population_lake()
    cohort = {
        "name": "t2d",
        "index_date": INDEX.isoformat(),
        "include": [{"kind": "diagnosis", "codes": ["DE11"]}],
    }
    first = feasibility(cohort, user="ann", defence=DisclosureSettings(), secret=SECRET)
    broken = {**normalise(cohort), "include": [{"kind": "diagnosis", "codes": ["NOPE"]}]}
    assert edits(normalise(cohort), broken) <= DisclosureSettings().neighbour_edits
    entry = PastQuery(datetime.now(UTC), "ann", None, broken, (), first.snapshot_id, {"total": 10})
    history = History([entry])
    again = feasibility(
        cohort, user="ann", history=history, defence=DisclosureSettings(), secret=SECRET
    )
    assert again.total == first.total
