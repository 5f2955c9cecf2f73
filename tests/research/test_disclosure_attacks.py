"""An automated attacker against the real counting path: no true count 1-4 is recovered.

The attacker has the whole query budget, knows the published mechanism (the
threshold, the noise's standard deviation, the rounding base, that a
near-identical query is answered with the earlier answer and says so) and
nothing else: not the server's secret, not a hidden count. It runs the classic
attacks over a small real DuckLake whose hidden cells it is trying to learn:

* differencing: t2d in Vejle at 50-70 minus 55-70 (the hidden 50-54 cell is 1);
* nested cohorts: the same two cohorts stratified by age band, subtracting cells;
* complementary margins: the region's total minus all municipalities but one;
* one-day shifts: a lab window one day shorter, and the index date one day later;
* isolating by one more filter: a group of 7 minus its men is one woman;
* averaging: rephrased and repeated queries, and evasive pairs (more edits
  apart than the guard looks) over many different sets of other people.

"Recovered" is honest: the attacker computes the posterior of the hidden count
from everything it saw, under the mechanism it knows, with a flat prior; it has
recovered the count when the most probable value is the truth *and* has
probability >= 0.95 (with exact counts that means certainty). The same attacks
are run three times: with the defence off (they must succeed, or the test is
worthless), with the guard but exact counts (the near-identical attacks fail,
the evasive one succeeds: why the noise is needed), and with the full defence
(nothing is recovered).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from regionlab.research import disclosure
from regionlab.research.disclosure import DisclosureSettings
from tests.research.attacks import (
    FULL,
    GUARD_ONLY,
    SIMPLE_ATTACKS,
    TRUTH,
    attack_evasive_pairs,
    attack_nested_tables,
    attack_rephrased_averaging,
    build_attack_lake,
    recovered,
    t2d,
)
from tests.research.attacks import InProcessAttacker as Attacker


@pytest.fixture(scope="module")
def attack_lake(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    var = tmp_path_factory.mktemp("attack") / "var"
    var.mkdir()
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("REGIONLAB_VAR", str(var))
        build_attack_lake()
        yield var


@pytest.fixture
def lake_var(attack_lake: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("REGIONLAB_VAR", str(attack_lake))
    return attack_lake


# ------------------------------------------------------------------ tests


def test_the_lake_has_the_planted_cells(lake_var: Path) -> None:
    """The exact counts (defence off) are what the attacks are after."""
    att = Attacker(None)
    assert att.ask(t2d(age=(50, 54), municipality=["630"])).total == "<5"  # type: ignore[union-attr]
    wide = att.ask(t2d(age=(50, 70), municipality=["630"]))
    assert wide is not None and wide.total == 16


@pytest.mark.parametrize("name", sorted(SIMPLE_ATTACKS))
def test_attacks_recover_the_count_without_the_defence(lake_var: Path, name: str) -> None:
    attack, cell = SIMPLE_ATTACKS[name]
    posterior = attack(Attacker(None))
    assert recovered(posterior, TRUTH[cell]), posterior


def test_nested_and_averaging_attacks_succeed_without_the_defence(lake_var: Path) -> None:
    first, second = attack_nested_tables(Attacker(None))
    assert recovered(first, TRUTH["vejle_50_54"])
    assert recovered(second, TRUTH["vejle_65_69"])
    posterior, _ = attack_rephrased_averaging(Attacker(None), max_pairs=2)
    assert recovered(posterior, TRUTH["vejle_50_54"])
    assert recovered(attack_evasive_pairs(Attacker(None), max_pairs=2), TRUTH["vejle_50_54"])


@pytest.mark.parametrize("defence", [GUARD_ONLY, FULL], ids=["guard-only", "full"])
@pytest.mark.parametrize("name", sorted(SIMPLE_ATTACKS))
def test_near_identical_attacks_fail_with_the_guard(
    lake_var: Path, name: str, defence: DisclosureSettings
) -> None:
    attack, cell = SIMPLE_ATTACKS[name]
    att = Attacker(defence)
    posterior = attack(att)
    assert not recovered(posterior, TRUTH[cell]), posterior
    # Nothing beyond "fewer than 5 differ": every value 0..4 stays equally likely.
    assert max(posterior.values()) <= 0.2 + 1e-9, posterior


@pytest.mark.parametrize("defence", [GUARD_ONLY, FULL], ids=["guard-only", "full"])
def test_nested_tables_fail_with_the_guard(lake_var: Path, defence: DisclosureSettings) -> None:
    att = Attacker(defence)
    first, second = attack_nested_tables(att)
    assert not recovered(first, TRUTH["vejle_50_54"])
    assert not recovered(second, TRUTH["vejle_65_69"])
    # The narrow table repeats the wide one's suppression pattern and numbers.
    wide, narrow = (q.answer for q in att.history())
    assert "reused" in narrow
    for key, shown in narrow["cells"].items():
        assert shown == wide["cells"].get(key, "<5")


def test_rephrasing_and_averaging_give_nothing(lake_var: Path) -> None:
    att = Attacker(FULL)
    posterior, wide_seen = attack_rephrased_averaging(att)
    assert not recovered(posterior, TRUTH["vejle_50_54"])
    # The same people always get the same noise: twelve rephrasings show one value.
    assert len(set(wide_seen)) == 1, wide_seen


@pytest.mark.slow
def test_evasive_pairs_beat_exact_counts_but_not_the_noise(lake_var: Path) -> None:
    """Why the noise is needed: the guard looks only two edits far."""
    evasive = attack_evasive_pairs(Attacker(GUARD_ONLY), max_pairs=2)
    assert recovered(evasive, TRUTH["vejle_50_54"])
    att = Attacker(FULL)
    posterior = attack_evasive_pairs(att)
    assert not recovered(posterior, TRUTH["vejle_50_54"]), posterior
    assert att.refused >= 1, "the attacker spent the whole budget"
    assert att.asked - att.refused == FULL.budget


def test_repeating_one_query_gives_one_answer_then_a_lockout(lake_var: Path) -> None:
    att = Attacker(DisclosureSettings(lockout_after=4))
    cohort = t2d(age=(50, 70), municipality=["630"])
    seen = [att.ask(cohort) for _ in range(6)]
    shown = {s.total for s in seen if s is not None}
    assert len(shown) == 1 and att.refused == 2
    assert att.history()[-1].refused.startswith("lockout:")  # type: ignore[union-attr]
    # The access officer lifts it; the next ask is answered, with the same value.
    disclosure.record_lift(
        att.store,
        user=att.user,
        project=att.project,
        definition=disclosure.normalise(cohort),
        officer="ao",
    )
    again = att.ask(cohort)
    assert again is not None and again.total in shown
