"""What `regionlab demo` tells a new user on a first run (issue 14)."""

from __future__ import annotations

import re
from pathlib import Path


def test_first_demo_has_no_errored_checks_and_computes_its_explanation(demo_var: Path) -> None:
    out = " ".join((demo_var.parent / "demo.out").read_text(encoding="utf-8").split())
    assert "0 errored checks" in out
    # every product ran: none skipped because a step failed in Dagster
    assert "not run:" not in out and "product(s) not published" not in out
    # the old, asserted sentence is gone; the counts come from defects.csv
    assert "Failing warning rules are the" not in out
    found = re.search(r"Of (\d+) flagged rows, (\d+) are defects injected on purpose", out)
    assert found, out[-2000:]
    assert int(found.group(1)) > 0
    assert "matched with var/sources/defects.csv" in out


def test_demo_sets_up_the_example_workspaces_notebook_02_opens(demo_var: Path) -> None:
    """Notebook 02 opens t2d-hba1c: the demo registers the example permits and builds them."""
    out = " ".join((demo_var.parent / "demo.out").read_text(encoding="utf-8").split())
    for project in ("t2d-hba1c", "readmissions-vejle"):
        assert f"workspace {project}: snapshot" in out, out[-2000:]
        assert (demo_var / "research" / "permits" / f"{project}.yaml").is_file()
        assert list((demo_var / "research").rglob(f"*{project}*.duckdb")), project


def test_demo_counts_through_the_access_service_and_stops_it(demo_var: Path) -> None:
    """Issue 18: the demo starts the embedded service, asks one count through it, stops it."""
    out = " ".join((demo_var.parent / "demo.out").read_text(encoding="utf-8").split())
    assert re.search(r"access service: started on http://127\.0\.0\.1:\d+", out), out[-2000:]
    assert "feasibility through the service, as demo-researcher: t2d_vejle:" in out
    assert "access service: stopped" in out
    assert not (demo_var / "service" / "runtime.json").exists()
    token_file = demo_var / "service" / "demo-researcher.token"
    assert token_file.read_text(encoding="utf-8").startswith("rl_")
    assert oct(token_file.stat().st_mode & 0o777) == "0o600"


def test_demo_trains_validates_and_boards_both_models(demo_env: Path) -> None:
    """Issue 21: both models validated with intervals; status in the quality history and on
    the initiatives board of the site, with the report beside it."""
    import json

    from regionlab import lake
    from regionlab.platform.tables import QUALITY_HISTORY

    demo_var = demo_env
    out = " ".join((demo_var.parent / "demo.out").read_text(encoding="utf-8").split())
    found = re.search(
        r"model readmission_risk \(INI-002\): auroc (0\.\d+) \((0\.\d+)–(0\.\d+)\), "
        r"status (pass|warn|block)", out
    )  # fmt: skip
    assert found, out[-3000:]
    auc, low, high = (float(found.group(i)) for i in (1, 2, 3))
    assert 0.6 < auc < 0.95 and low < auc < high  # the synthetic signal is learnable
    entity = re.search(r"model note_entities \(INI-004\): f1\.all (0\.\d+ \(|n/a)", out)
    assert entity, out[-3000:]
    if entity.group(1) == "n/a":
        # This demo is smaller than `make demo`'s: a span total of 1-4 (fp over all labels)
        # hides every rate of the "all" row under the small-cell rule, and says so.
        spans = json.loads((demo_var / "models" / "note_entities" / "report.json").read_text())
        every = next(row for row in spans["labels"] if row["label"] == "*")
        assert every["suppressed"] and every["f1"]["value"] is None
        assert "<5" in (every["tp"], every["fp"], every["fn"])
    report = json.loads((demo_var / "models" / "readmission_risk" / "report.json").read_text())
    assert report["training"]["snapshot"] <= report["snapshot_id"]
    assert report["subgroups"]["rows"] and report["roc"]["fpr"]
    site = demo_var / "catalog" / "site"
    data = (site / "data.js").read_text(encoding="utf-8")
    assert '"models/readmission_risk.html"' in data and (site / "models").is_dir()
    con = lake.connect(read_only=True)
    try:
        rows = con.execute(
            f"SELECT count(*) FROM {QUALITY_HISTORY.qualified} WHERE product = ? "
            "AND category = 'model_validation' AND \"check\" = 'model.status'",
            ["models/readmission_risk"],
        ).fetchone()[0]
    finally:
        con.close()
    assert rows >= 1
