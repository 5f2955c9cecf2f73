"""Nothing in a validation report lets a reader recompute a count below the small-cell limit.

Constructed data with a two-level dimension (one level of three persons) and a
threshold that calls very few contacts positive, checked against the report JSON,
the HTML page (tables and plot) and the training counts.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from regionlab.aimodels.card import collect_cards
from regionlab.aimodels.disclosure import public_training
from regionlab.aimodels.evaluate import evaluate_binary
from regionlab.aimodels.report import render_html
from regionlab.aimodels.subgroups import subgroup_report

ROOT = Path(__file__).resolve().parents[2]
CARD = collect_cards(ROOT / "models")[0]["readmission_risk"]
META = {"model_id": "m", "title": "T", "version": "1", "initiative": "INI-002",
        "validated_at": "now", "snapshot_id": 1, "synthetic_signal": "s"}  # fmt: skip


def _two_level(n: int = 1000, small: int = 3, seed: int = 3):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    p = 1 / (1 + np.exp(-(-1.5 + 1.2 * x)))
    y = (rng.random(n) < p).astype(int)
    y[:small] = [1, 0, 1][:small]
    sex = np.array(["M"] * n, dtype=object)
    sex[:small] = "K"  # three persons: below the limit
    return y, p, {"sex": sex}


def _numbers(report: dict) -> set:
    """Every number anywhere in the JSON report."""
    out: set = set()

    def walk(v):
        if isinstance(v, dict):
            for x in v.values():
                walk(x)
        elif isinstance(v, list):
            for x in v:
                walk(x)
        elif isinstance(v, int | float) and not isinstance(v, bool):
            out.add(v)

    walk(report)
    return out


def test_a_two_level_dimension_hides_both_levels_when_one_is_small() -> None:
    y, p, groups = _two_level()
    report = evaluate_binary(CARD, y, p, groups, rounds=50)
    rows = {r["level"]: r for r in report["subgroups"]["rows"] if r["dimension"] == "sex"}
    assert rows["K"]["suppressed"] and rows["K"]["n"] is None
    big = rows["M"]
    # the total is shown, so the big level must go too: total − M would be K
    assert report["n"] == y.size
    assert big["suppressed"] and big["n"] is None and big["positives"] is None
    assert not big["rates"] and big["auroc"] is None
    assert all(v is None for v in report["subgroups"]["ratios"]["sex"].values())
    html = render_html({**report, **META})
    assert "<td>M</td><td>skjult</td><td>skjult</td>" in html
    for shown in (y.size - 3, int(y[3:].sum())):
        assert f"<td>{shown}</td>" not in html
    body = json.dumps(report)
    assert f'"n": {y.size - 3}' not in body and f'"positives": {int(y[3:].sum())}' not in body


def test_hidden_levels_together_reach_the_limit() -> None:
    """Two one-person levels hidden together still give each away (each is exactly 1)."""
    rng = np.random.default_rng(0)
    n = 600
    y = (rng.random(n) < 0.3).astype(int)
    p = rng.random(n)
    g = np.array(["A"] * 300 + ["B"] * 298 + ["X", "Y"], dtype=object)
    report = subgroup_report(y, p, {"d": g}, [0.5], min_cell=5)
    hidden = {r.level for r in report.rows if r.suppressed}
    assert {"X", "Y"} <= hidden and len(hidden) >= 3


def _few_called(n: int = 1000, called: int = 3, seed: int = 4):
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.3).astype(int)
    p = rng.random(n) * 0.05
    idx = np.flatnonzero(y == 1)[:called]
    p[idx] = 0.99  # only three contacts above the card's thresholds: tp = 3, fp = 0
    return y, p


def test_rates_and_confusion_counts_go_when_a_cell_is_small() -> None:
    y, p = _few_called()
    sex = np.where(np.arange(y.size) % 2 == 0, "K", "M").astype(object)
    report = evaluate_binary(CARD, y, p, {"sex": sex}, rounds=50)
    t = report["thresholds"][0]
    assert t["tp"] == "<5"
    for k in ("fp", "tn", "fn"):
        assert t[k] == "<5" or t[k] is None
    for k in ("sensitivity", "specificity", "ppv"):
        assert t[k]["value"] is None, k
        assert report["headline"][f"{k}@0.1"]["value"] is None
    for j in report["judgements"]:
        if "@0.1" in j["name"]:
            assert j["value"] is None and "0." not in j["reason"].split("bound")[0]
    for r in report["subgroups"]["rows"]:
        assert all(v is None for k, v in r["rates"].items() if k.endswith("@0.1"))
    assert 3 / int(y.sum()) not in _numbers(report)
    html = render_html({**report, **META})
    assert f"{3 / int(y.sum()):.3f}" not in html


def test_the_forest_plot_never_turns_a_rate_back_into_a_count() -> None:
    source = (ROOT / "regionlab/aimodels/report.py").read_text(encoding="utf-8")
    assert '* r["positives"]' not in source and "value * r" not in source


def test_training_counts_in_the_report_are_suppressed() -> None:
    out = public_training({"rows": 9003, "positives": 9000, "snapshot": 17, "window": ["a", "b"]})
    assert out["rows"] == 9003 and out["positives"] == "<5"
    assert out["snapshot"] == 17 and out["window"] == ["a", "b"]
    assert public_training({"rows": 9000, "positives": 3})["positives"] == "<5"
    assert public_training({"rows": 4, "positives": 0})["rows"] == "<5"
    source = (ROOT / "regionlab/aimodels/runner.py").read_text(encoding="utf-8")
    assert 'report["training"] = public_training(' in source


# --- span reports and threshold bands ---------------------------------------------------

SPAN_LABELS = ["DIAGNOSE", "MEDICIN", "DOSIS", "UNDERSØGELSE"]


def _derivable(report: dict) -> list[tuple[str, str, int]]:
    """Every span count a reader gets: shown cells and total minus the shown labels."""
    rows = {r["label"]: r for r in report["labels"]}
    out = []
    for cell in ("tp", "fp", "fn"):
        shown = [r[cell] for r in rows.values() if r["label"] != "*" and isinstance(r[cell], int)]
        out += [(r["label"], cell, r[cell]) for r in rows.values() if isinstance(r[cell], int)]
        total = rows["*"][cell]
        if isinstance(total, int) and len(shown) < len(rows) - 1:
            out.append(("rest", cell, total - sum(shown)))
    return out


def test_span_report_shows_no_count_of_one_to_four() -> None:
    """MEDICIN misses 3 spans: its counts and rates go, with a complement (tp/fp/fn of 1–4)."""
    from regionlab.aimodels.evaluate import evaluate_spans

    card = collect_cards(ROOT / "models")[0]["note_entities"]
    gold, pred = {}, {}
    for i in range(60):
        g = {("DIAGNOSE", 0, 5)} | ({("MEDICIN", 10, 15)} if i < 40 else set())
        g |= {("DOSIS", 20, 25)} if i < 20 else set()
        p = {("DIAGNOSE", 0, 5)} if i < 50 else set()  # DIAGNOSE: 10 missed
        p |= {("MEDICIN", 10, 15)} if i < 37 else set()  # MEDICIN: 3 missed
        p |= {("DOSIS", 20, 25)} if i < 20 else set()
        gold[f"d{i:02d}"], pred[f"d{i:02d}"] = g, p
    report = evaluate_spans(card, gold, pred, SPAN_LABELS, rounds=20)
    for label, cell, value in _derivable(report):
        assert not 0 < value < 5, (label, cell, value)
    medicin = next(r for r in report["labels"] if r["label"] == "MEDICIN")
    assert medicin["suppressed"] and medicin["fn"] == "<5" and medicin["tp"] is None
    assert report["headline"]["recall.MEDICIN"]["value"] is None
    assert report["headline"]["f1.all"]["value"] is not None  # the total stays
    judged = {j["name"]: j for j in report["judgements"]}
    assert judged["f1.MEDICIN"]["value"] is None and "hidden" in judged["f1.MEDICIN"]["reason"]
    html = render_html({**report, **META})
    assert "<td>MEDICIN</td><td>skjult</td><td>skjult</td><td>&lt;5</td>" in html


def _banded(seed: int = 5):
    """Every cell at 0.1 and at 0.2 is large, but only 3 positives have a risk in [0.1, 0.2)."""
    rng = np.random.default_rng(seed)
    p = np.concatenate([np.full(500, 0.05), np.full(23, 0.15), np.full(477, 0.5)])
    y = np.concatenate([(rng.random(500) < 0.1), np.arange(23) < 3, (rng.random(477) < 0.4)])
    sex = np.where(rng.random(p.size) < 0.5, "K", "M").astype(object)
    sex[500:503] = "K"
    return y.astype(int), p, {"sex": sex}


def test_two_threshold_rows_do_not_give_a_small_band_by_difference() -> None:
    y, p, groups = _banded()
    assert int(y[500:523].sum()) == 3
    report = evaluate_binary(CARD, y, p, groups, rounds=20)
    shown = {r["threshold"]: r for r in report["thresholds"] if isinstance(r["tp"], int)}
    assert 0.1 in shown  # the lower threshold stays; 0.2 lies 3 positives above it
    for a, b in ((0.1, 0.2),):
        if a in shown and b in shown:
            for cell in ("tp", "fp"):
                assert not 0 < shown[a][cell] - shown[b][cell] < 5, cell
    assert 0.2 not in shown and report["headline"]["sensitivity@0.2"]["value"] is None
    for row in report["subgroups"]["rows"]:
        s1, s2 = row["rates"].get("sensitivity@0.1"), row["rates"].get("sensitivity@0.2")
        if s1 is not None and s2 is not None:
            band = round(s1 * row["positives"]) - round(s2 * row["positives"])
            assert not 0 < band < 5, (row["level"], band)


def test_a_level_hidden_between_two_thresholds_gives_no_band_across_it() -> None:
    """Level A is hidden at 0.5 but shown at 0.3 and 0.7: its band [0.3, 0.7) must not be 1-4.

    A's sensitivity at 0.3 and 0.7 beside its positives are tp 13 and 10, so three of
    its positives have a risk in [0.3, 0.7) — a difference across the threshold where
    A was hidden, not of two adjacent shown ones.
    """
    rng = np.random.default_rng(7)
    a_y = [1] * 10 + [1] * 3 + [1] * 20 + [0] * 2 + [0] * 10 + [0] * 20
    a_p = [0.9] * 10 + [0.4] * 3 + [0.1] * 20 + [0.4] * 2 + [0.6] * 10 + [0.95] * 20
    m = 400
    y = np.array(a_y + list((rng.random(m) < 0.4).astype(int)))
    p = np.array(a_p + list(rng.random(m)))
    grp = np.array(["A"] * len(a_y) + ["B"] * (m // 2) + ["C"] * (m // 2), dtype=object)
    thresholds = [0.3, 0.5, 0.7]
    report = subgroup_report(y, p, {"grp": grp}, thresholds)
    for row in report.rows:
        if row.suppressed:
            continue
        negatives = row.n - row.positives
        tp = {t: round(row.rates[f"sensitivity@{t:g}"] * row.positives)
              for t in thresholds if row.rates[f"sensitivity@{t:g}"] is not None}  # fmt: skip
        tn = {t: round(row.rates[f"specificity@{t:g}"] * negatives)
              for t in thresholds if row.rates[f"specificity@{t:g}"] is not None}  # fmt: skip
        for shown in (tp, tn):
            for a in shown:
                for b in shown:
                    assert not 0 < abs(shown[a] - shown[b]) < 5, (row.level, a, b)


def test_calibration_bins_give_no_hidden_count_from_the_totals() -> None:
    """One bin (the lowest risks) holds 3 positives: its rate is hidden, but total positives
    minus observed × n of the other bins would give the 3 back, so another bin goes too."""
    rng = np.random.default_rng(11)
    n = 1000
    p = np.sort(rng.random(n))
    y = (rng.random(n) < 0.5).astype(int)
    y[:100] = 0
    y[[10, 40, 70]] = 1  # the lowest decile: three positives
    report = evaluate_binary(CARD, y, p, {}, rounds=50)
    bins = report["calibration"]
    assert any(b["observed"] is None for b in bins)
    shown = [b for b in bins if b["observed"] is not None and isinstance(b["n"], int)]
    pos = int(y.sum()) - sum(round(b["observed"] * b["n"]) for b in shown)
    neg = int(n - y.sum()) - sum(round((1 - b["observed"]) * b["n"]) for b in shown)
    assert not 0 < pos < 5 and not 0 < neg < 5, (pos, neg)
    rows = int(n) - sum(b["n"] for b in bins if isinstance(b["n"], int))
    assert not 0 < rows < 5
