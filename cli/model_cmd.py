"""`regionlab model train|score|status` and `regionlab validate <model>`."""

from __future__ import annotations

from typing import Any

import typer
from rich.table import Table

from cli.console import make_console, styled

console = make_console()
app = typer.Typer(no_args_is_help=True, help="AI models: train, score, status (see models/).")

STATUS_STYLE = {"pass": "green", "warn": "yellow", "block": "red"}


def _card(model_id: str):
    from regionlab.aimodels import runner

    return runner.card(model_id)


@app.command("train")
def train(model_id: str = typer.Argument(..., help="Model id (models/<id>.yaml).")) -> None:
    """Train a model in its card's workspace (the dictionary model needs no training)."""
    from regionlab.aimodels import runner

    c = _card(model_id)
    if c.output == "spans":
        from labeling.preannotate import model_version

        console.print(f"{c.id}: dictionary model {model_version()}, built from the code lists")
        return
    trained = runner.train_readmission(c)
    t = trained.training
    console.print(
        f"{c.id}: trained in workspace {t['workspace']} (lake snapshot {t['snapshot']}) on "
        f"{t['rows']} index contacts, window {t['window'][0]}..{t['window'][1]} → "
        f"{runner.model_file(c.id)}",
        highlight=False,
    )


def score_model(model_id: str) -> tuple[int, int]:
    c = _card(model_id)
    if c.output == "spans":
        from labeling.entity_model import score

        return score(c.id)
    from regionlab.aimodels import runner

    return runner.score_readmission(c)


@app.command("score")
def score(model_id: str = typer.Argument(..., help="Model id (models/<id>.yaml).")) -> None:
    """Run the model and publish its predictions product (models/<id>__predictions)."""
    rows, snapshot = score_model(model_id)
    console.print(f"{model_id}: {rows} predictions published (lake snapshot {snapshot})")


@app.command("status")
def status() -> None:
    """The last validation of every model card: status, when, on which snapshot."""
    from regionlab.aimodels.status_board import board

    table = Table(title="AI models")
    for column in ("model", "initiative", "status", "last validated", "snapshot", "trend"):
        table.add_column(column)
    for row in board():
        colour = STATUS_STYLE.get(row.status or "", "white")
        table.add_row(
            row.model_id, row.initiative, styled(f"[{colour}]{{}}[/]", row.status or "never"),
            row.validated_at or "", str(row.snapshot_id or ""), " ".join(row.trend),
        )  # fmt: skip
    console.print(table)


def _fmt(est: dict[str, Any]) -> str:
    if est["value"] is None:
        return "n/a"
    if est["low"] is None:
        return f"{est['value']:.3f}"
    return f"{est['value']:.3f} ({est['low']:.3f}–{est['high']:.3f})"


def print_validation(v) -> None:
    r = v.report
    table = Table(title=f"{r['title']} — {r['model_id']} v{r['version']} ({r['initiative']})")
    table.add_column("metric")
    table.add_column("value (95 % CI)", justify="right")
    table.add_column("card")
    judged = {j["name"]: j for j in r["judgements"]}
    for name, est in r["headline"].items():
        j = judged.get(name)
        verdict = "" if j is None else styled(f"[{STATUS_STYLE[j['status']]}]{{}}[/]", j["status"])
        table.add_row(name, _fmt(est), verdict)
    console.print(table)
    for j in [*r.get("disparity", []), *r.get("drift", [])]:
        if j["status"] != "pass":
            console.print(styled("  [yellow]{}[/]: {}", j["name"], j["reason"]))
    if r["output"] != "spans":
        sub = r["subgroups"]
        console.print(
            f"validated on {r['n']} index contacts ({r['positives']} readmitted), lake snapshot "
            f"{r['snapshot_id']}; {sub['suppressed']} subgroup(s) hidden (< {sub['min_cell']})",
            highlight=False,
        )
    else:
        console.print(f"validated on {r['documents']} labelled notes, lake snapshot "
                      f"{r['snapshot_id']}", highlight=False)  # fmt: skip
    colour = STATUS_STYLE[v.status]
    console.print(styled(f"status: [{colour}]{{}}[/]", v.status))
    console.print(f"report: {v.html_path} and {v.json_path}", highlight=False)


def validate(
    model_id: str = typer.Argument(..., help="Model id (models/<id>.yaml)."),
    rounds: int = typer.Option(1000, help="Bootstrap rounds for the intervals."),
) -> None:
    """Validate a model on the newest snapshot against its card; report and quality history."""
    from regionlab.aimodels import runner

    print_validation(runner.validate(model_id, rounds=rounds))
