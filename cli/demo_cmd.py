"""`regionlab demo`: a small synthetic region end to end, on embedded defaults."""

from __future__ import annotations

import datetime as dt
from typing import Any

import typer
from rich.table import Table

from cli.console import make_console, styled

console = make_console()


def demo(
    persons: int = typer.Option(5000, help="Persons in the synthetic region."),
    seed: int = typer.Option(42, help="Seed of the synthetic region."),
    defect_rate: float = typer.Option(0.01, help="Share of defective source rows."),
    stream_seconds: float = typer.Option(
        20.0, help="Seconds of the live EPJ event stream at 32 events/s (0: no stream)."
    ),
) -> None:
    """Generate sources, validate specs, run every pipeline and emit the catalogue."""
    from cli.run_cmd import FAILED, emit_and_report, execute, report_outcomes, summary_table
    from regionlab import lake
    from regionlab.config import current
    from regionlab.privacy.keys import default_key_path, init_key, load_key
    from regionlab.settings import get_settings
    from regionlab.spec import load_domains
    from regionlab.synth.generate import generate

    settings = get_settings()
    console.rule("regionlab demo")
    registry = load_domains()
    console.print(
        f"specs: {len(registry.domains)} domains, {len(registry.products)} products valid"
    )
    if not default_key_path().exists():
        init_key()
    key = load_key()
    console.print(f"pseudonymisation key: id {key.key_id}")
    manifest = generate(
        out=settings.sources_dir,
        persons=persons,
        seed=seed,
        defect_rate=defect_rate,
        as_of=dt.date(2026, 11, 1),
        deliveries=3,
    )
    console.print(f"sources: {settings.sources_dir} ({len(manifest.files)} extract files)")
    lake.init_lake()
    console.print(f"lake: {current().lake.describe()}")
    runs = execute([p.ref for p in registry.batch_order()], full_refresh=True, registry=registry)
    console.print(summary_table(runs))
    report_outcomes(runs)
    failed = [r for r in runs if r.status in FAILED]
    if stream_seconds > 0:
        _short_stream(registry, settings, stream_seconds)
    from cli.quality_cmd import quality

    quality(None)
    _explain_flagged_rows(settings.sources_dir, key, manifest.as_of)
    _example_workspaces()
    _models()
    emit_and_report()
    _feasibility_through_the_service()
    if failed:
        console.print(styled("[red]{} product(s) not published[/]", len(failed)))
        raise typer.Exit(1)


def _short_stream(registry: Any, settings: Any, seconds: float) -> None:
    """Publish the synthetic EPJ feed for ``seconds`` while the consumer publishes it.

    Producer and consumer run side by side (the producer in a thread), as in production;
    each micro-batch is a Dagster materialisation of the streaming asset.
    """
    import threading

    from cli.stream_cmd import consumer_line
    from pipelines.streaming import report_batch
    from regionlab.streaming.consumer import consume

    for product in registry.streams():
        assert product.stream is not None
        sent: list[Any] = []
        feed = threading.Thread(target=_feed, args=(product, settings, seconds, sent), daemon=True)
        with console.status(f"live stream: {product.stream.topic} at 32 events/s"):
            summary = consume(
                product, settings, idle_exit_seconds=10.0, max_seconds=seconds + 120,
                on_batch=report_batch, on_ready=feed.start,
            )  # fmt: skip
            feed.join(timeout=5)
        events = f"{sent[0].sent:,} events sent; " if sent else ""
        console.print(f"stream: {events}{consumer_line(summary)}")


def _feed(product: Any, settings: Any, seconds: float, sent: list[Any]) -> None:
    from regionlab.synth.stream_feed import Rate, publish_feed

    ledger = settings.sources_dir / "stream" / "ledger.jsonl"
    sent.append(publish_feed([product], settings.sources_dir, ledger, rate=Rate(32.0, seconds)))


#: The demo's two people: separation of duties holds in the demo too.
DEMO_APPLICANT = "demo-researcher"
DEMO_OFFICER = "demo-officer"


def _example_workspaces() -> None:
    """Apply for the repository's example permits, approve them, build their workspaces.

    The demo applies as a researcher and approves as an access officer (two
    identities, both audited), as on the platform. Notebook 02 opens the
    ``t2d-hba1c`` workspace; without this step a new user would meet "no
    registered permit" there. Re-running applies again and approves with
    ``--replace`` (idempotent).
    """
    from regionlab.errors import UserError
    from regionlab.research.permit_workflow import ACCESS_OFFICER, RESEARCHER, Actor, approve
    from regionlab.research.permit_workflow import apply as apply_permit
    from regionlab.research.permits import load_permit, registered_path
    from regionlab.research.workspace import build_workspace
    from regionlab.settings import PROJECT_ROOT

    applicant, officer = Actor(DEMO_APPLICANT, RESEARCHER), Actor(DEMO_OFFICER, ACCESS_OFFICER)
    for path in sorted((PROJECT_ROOT / "permits").glob("*.yaml")):
        try:
            permit = load_permit(path)
            replace = registered_path(permit.project_id).exists()
            if not _pending(permit.project_id):  # an interrupted run may have left one
                apply_permit(applicant, permit)
            approve(officer, permit.project_id, replace=replace)
            built = build_workspace(permit.project_id)
        except UserError as exc:
            console.print(f"example permit {path.name} not set up: {exc}")
            continue
        console.print(
            f"workspace {permit.project_id}: snapshot {built.lake_snapshot} "
            f"(applied by {DEMO_APPLICANT}, approved by {DEMO_OFFICER}; permit expires "
            f"{permit.expires.isoformat()}; used by notebooks/)"
        )


#: Bootstrap rounds in the demo: enough for stable intervals, small enough to stay quick.
DEMO_ROUNDS = 200


def _models() -> None:
    """Train, score and validate both AI models (models/), before the catalogue is emitted.

    The readmission model trains in the ``readmission-model`` workspace built above; the
    entity model is the labelling module's dictionary, judged against the labelled notes
    (in the demo a rule-based reference annotator's, as no one annotated in Label Studio).
    A model that cannot be validated is reported and the demo goes on.
    """
    from cli.model_cmd import STATUS_STYLE, score_model
    from labeling.entity_model import reference_labels
    from regionlab.aimodels import runner
    from regionlab.errors import UserError

    for model_id in ("readmission_risk", "note_entities"):
        try:
            card = runner.card(model_id)
            if card.output == "spans":
                reference_labels()
            else:
                runner.train_readmission(card)
            score_model(model_id)
            v = runner.validate(model_id, rounds=DEMO_ROUNDS)
        except UserError as exc:
            console.print(styled("[red]model {} not validated: {}[/]", model_id, exc))
            continue
        key = "auroc" if card.output != "spans" else "f1.all"
        est = v.report["headline"][key]
        shown = "n/a" if est["value"] is None else f"{est['value']:.3f}"
        if est["low"] is not None:
            shown += f" ({est['low']:.3f}–{est['high']:.3f})"
        colour = STATUS_STYLE[v.status]
        console.print(
            styled(
                f"model {{}} ({{}}): {key} {{}}, status [{colour}]{{}}[/]; report {{}}",
                model_id, card.initiative, shown, v.status, v.html_path,
            )
        )  # fmt: skip


def _feasibility_through_the_service() -> None:
    """Issue a demo researcher token, start the embedded service, ask one count, stop it.

    The token is written to ``var/service/demo-researcher.token`` (0600) so the
    README's researcher section can log in with it.
    """
    import os

    from regionlab.errors import UserError
    from regionlab.research import client
    from regionlab.settings import PROJECT_ROOT, get_settings
    from service.roles import Role
    from service.users import add_user

    token = add_user(DEMO_APPLICANT, Role.researcher, replace=True)
    token_file = get_settings().service_dir / "demo-researcher.token"
    fd = os.open(token_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(token + "\n")
    try:
        url = client.ensure_embedded()
        console.print(f"access service: started on {url} (embedded profile)", highlight=False)
        answer = client.ServiceClient(url, token).feasibility(
            PROJECT_ROOT / "cohorts" / "t2d_vejle.yaml"
        )
        console.print(
            f"feasibility through the service, as {answer.user}: {answer.cohort_name}: "
            f"{answer.total} persons (lake snapshot {answer.snapshot_id}; counts below "
            f"{answer.threshold} hidden; logged as {answer.audit_entry_id})",
            highlight=False,
        )
    except UserError as exc:
        console.print(styled("[red]feasibility through the access service failed: {}[/]", exc))
    finally:
        pid = client.stop_embedded()
        if pid is not None:
            console.print(f"access service: stopped (pid {pid})", highlight=False)
    console.print(
        f"demo researcher token: {token_file} — `regionlab login < {token_file}`, then "
        "`regionlab feasibility cohorts/t2d_vejle.yaml` starts the service on demand",
        highlight=False,
    )


def _pending(project_id: str) -> bool:
    from regionlab.research.permit_workflow import applications_dir, get_application

    has = (applications_dir() / f"{project_id}.json").is_file()
    return has and get_application(project_id).status == "pending"


def _explain_flagged_rows(sources: Any, key: Any, as_of: dt.date) -> None:
    """Errored checks, and the rows each rule flagged matched against ``defects.csv``."""
    from quality.defects_explained import explain_defects
    from quality.history import latest_results
    from regionlab import lake
    from regionlab.spec import load_domains

    con = lake.connect(read_only=True)
    try:
        latest = latest_results(con)
        matched = explain_defects(con, load_domains(), sources, key, as_of)
    finally:
        con.close()
    errored = latest.filter(latest["status"] == "errored")
    console.print(f"{errored.height} errored checks")
    for row in errored.iter_rows(named=True):
        console.print(styled("  [red]{}: {}[/]", row["product"], row["check"]))
    if not matched:
        console.print("No rule flagged any row.")
        return
    table = Table(title="Rows flagged by quality rules, matched with var/sources/defects.csv")
    for column in ("product", "rule", "severity", "flagged", "injected defects", "not injected"):
        table.add_column(column, justify="right" if column[0] in "fin" else "left")
    for m in matched:
        table.add_row(
            m.product, m.rule, m.severity, str(m.flagged), str(m.injected), str(m.not_injected)
        )
    console.print(table)
    flagged = sum(m.compared for m in matched)
    injected = sum(m.injected for m in matched)
    console.print(
        f"Of {flagged} flagged rows, {injected} are defects injected on purpose (or point to "
        f"one) and {flagged - injected} are not; "
        "`regionlab catalog show <domain>/<product>` names each rule and its counts."
    )
