"""`regionlab run`: execute the Dagster definitions in-process with a progress display."""

from __future__ import annotations

import logging
import os
from collections import Counter
from typing import Any

import typer
from rich.table import Table

from cli.console import make_console, styled
from regionlab.errors import UserError

console = make_console()


def _profile() -> Any:
    """The active configuration profile; a non-default one is exported for Dagster."""
    from pipelines import launch
    from regionlab.config import current
    from regionlab.profiles import DEFAULT_PROFILE

    profile = current().profile
    if profile.name != DEFAULT_PROFILE:
        launch.apply(profile)
    return profile


def select(registry: Any, domain: str | None, product: str | None) -> list[str]:
    refs = [p.ref for p in registry.batch_order()]
    if domain:
        if domain not in registry.domains:
            raise UserError(
                f"unknown domain '{domain}'; known: {', '.join(sorted(registry.domains))}"
            )
        refs = [r for r in refs if r.startswith(f"{domain}/")]
    if product:
        wanted = product if "/" in product else None
        matches = [r for r in refs if r == wanted or r.split("/")[1] == product]
        streams = [p.ref for p in registry.streams() if product in (p.ref, p.id)]
        if not matches and streams:
            raise UserError(
                f"{streams[0]} is a streaming product: its consumer publishes it "
                f"(`regionlab stream consume {streams[0]}`), not `regionlab run`"
            )
        if not matches:
            raise UserError(
                f"unknown product '{product}'; products: "
                + ", ".join(p.ref for p in registry.batch_order())
            )
        refs = matches
    return refs


FAILED = ("failed", "audit_failed", "delivery_rejected")
STATUS_STYLE = {"published": "green", "up_to_date": "cyan", "skipped": "cyan", "queued": "yellow"}


def reload_targets(
    registry: Any, given: str, domain: str | None, product: str | None
) -> tuple[list[str], dict[str, str]]:
    """The products ``--reload FILE`` runs (each product with the delivery, then the products
    derived from them, in run order) and the delivery each of the first reloads."""
    from regionlab.settings import get_settings
    from regionlab.wap.sources import deliveries_named

    sources = get_settings().sources_dir
    allowed = set(select(registry, domain, product))
    candidates = [p for p in registry.batch_order() if p.ref in allowed]
    found = deliveries_named(candidates, sources, given)
    if not found:
        raise UserError(
            f"no product has a delivery {given} under {sources}; give the file's path or its "
            "name as `regionlab run` reports it (e.g. <system>/<extract>/<extract>_YYYY-MM-DD.csv)"
        )
    reload = {p.ref: e.name for p, e in found}
    wanted = set(reload)
    for p in registry.batch_order():  # upstreams come first: one pass collects every level
        if p.is_derived and wanted & set(p.upstream):
            wanted.add(p.ref)
    return [p.ref for p in registry.batch_order() if p.ref in wanted], reload


def outcome_line(run: Any) -> str:
    """What happened to one product and what to do, in one line (never a value)."""
    explain = getattr(run, "explain", None)
    if explain is not None:
        return f"{run.product}: {explain()}"
    if getattr(run, "reason", None):
        return f"{run.product}: {run.reason}"
    return f"{run.product}: {run.status}, {run.rows_published} rows published"


def _log_level(quiet: bool) -> str:
    """Dagster's console log: silent (errors are summarised) unless REGIONLAB_VERBOSE is set."""
    return "DEBUG" if os.environ.get("REGIONLAB_VERBOSE") and not quiet else "CRITICAL"


def _open_lake() -> Any:
    """The lake, read-only, or None when there is none yet (the first run creates it)."""
    from regionlab import lake

    try:
        return lake.connect(read_only=True)
    except UserError:
        return None


def preflight(
    registry: Any,
    refs: list[str],
    full_refresh: bool = False,
    reload: dict[str, str] | None = None,
) -> tuple[list[str], dict[str, Any]]:
    """Before Dagster starts: stop with one clear message when the key or the sources are
    missing, and decide which products have anything to do.

    Returns the products to run (in ``refs`` order) and, for each other product, the
    outcome the Dagster run would have reported for it, decided the way it decides:

    - a source product runs unless the engine's own check (:func:`nothing_to_do`: no new
      or re-delivered file by the load log's fingerprints, no changed delivery left to
      record) says it would end ``up_to_date`` having written nothing; a
      ``--full-refresh`` or a ``--reload`` of its delivery always runs it;
    - a derived product runs when none of its upstreams is selected (it recomputes, as in
      Dagster) or every selected upstream runs; Dagster skips a step as soon as one of its
      upstream steps yields nothing, so one upstream without news skips it.

    One read-only lake connection and one read transaction for all of it, and no bound
    parameter on the way (the first one makes DuckDB's client import pandas).
    """
    from regionlab.privacy.keys import load_key
    from regionlab.settings import get_settings
    from regionlab.wap.plan import nothing_to_do
    from regionlab.wap.sources import find_extracts
    from regionlab.wap.staging import private_folders, sweep_stale

    products = [registry.product(r) for r in refs]
    keyed = any(p.source and p.source.person_column for p in products)
    key_id = load_key().key_id if keyed else None
    settings = get_settings()
    # What every engine run does first, done here too: a run with nothing new starts no
    # engine, and a dead run's staging copy (raw rows, CPR numbers) must not wait for the
    # next delivery to be removed.
    sweep_stale(settings)
    private_folders(settings)
    sources = settings.sources_dir
    missing = [p.ref for p in products if p.source and not find_extracts(sources, p)]
    con = _open_lake() if keyed or not full_refresh else None
    if con is not None:  # one snapshot for every decision (and half the catalogue reads)
        con.execute("BEGIN TRANSACTION")
    try:
        if con is not None and key_id is not None:  # the engine refuses too, later
            from regionlab.platform.lake_key import check_key

            check_key(con, key_id)
        if missing:
            raise UserError(
                f"no source extracts for {', '.join(missing)} under {sources}; "
                "run `regionlab synth` (or deliver the extracts) first"
            )
        skipped: dict[str, Any] = {}
        for p in products:
            if p.source is not None:
                done = (
                    None
                    if con is None or full_refresh or p.ref in (reload or {})
                    else nothing_to_do(con, settings, p, key_id if p.source.person_column else None)
                )
                if done is not None:
                    skipped[p.ref] = done
            elif any(u in skipped for u in p.upstream if u in refs):
                skipped[p.ref] = _Missing(p.ref, None)
    finally:
        if con is not None:
            con.close()
    return [r for r in refs if r not in skipped], skipped


#: The last registry and its Dagster definitions. The registry itself is kept (not its id):
#: a freed registry's id is reused by the next one, whose definitions would then be stale.
_DEFINITIONS: dict[str, tuple[Any, Any]] = {}


def _definitions(registry: Any) -> Any:
    """The registry's definitions, built once (a watcher keeps them: building imports GX)."""
    from pipelines.build import build_definitions

    cached = _DEFINITIONS.get("last")
    if cached is None or cached[0] is not registry:
        cached = _DEFINITIONS["last"] = (registry, build_definitions(registry))
    return cached[1]


def execute(
    refs: list[str],
    full_refresh: bool = False,
    quiet: bool = False,
    reload: dict[str, str] | None = None,
    registry: Any = None,
) -> list[Any]:
    """Materialize ``refs`` in one Dagster run; return the ProductRun of each product that ran.

    ``reload`` maps a product to the delivery whose published rows it replaces. ``registry``
    is the caller's loaded ``domains/`` (loading it costs 0.3–2 s; one load per command).

    The embedded profile runs in this process; a profile with the Celery executor
    spreads the steps over the workers (which must be running) and reports from
    the run's events.
    """
    if _profile().executor == "celery":
        return _execute_on_workers(refs, full_refresh, reload, registry)
    import dagster as dg
    from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from pipelines import progress
    from pipelines.launch import dagster_home

    dagster_home()
    from pipelines.assets import asset_key, op_config
    from regionlab.spec import load_domains

    registry = registry or load_domains()
    defs = _definitions(registry)
    runs: dict[str, Any] = {}
    bar = Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
        console=console,
        disable=quiet,
        transient=True,
    )
    task = bar.add_task("running products", total=len(refs))

    def listen(event: str, ref: str, payload: Any) -> None:
        if event == "started":
            bar.update(task, description=f"{ref}: ingest, pseudonymise, audit, publish")
        elif event == "finished":
            runs[ref] = payload
            bar.advance(task)

    unsubscribe = progress.subscribe(listen)
    # A product with no new extracts reports no checks, by design; Dagster warns about
    # every such blocking check on stderr, which is noise on the command line.
    logging.getLogger("dagster._core.execution.plan.active").setLevel(logging.ERROR)
    config = {"ops": op_config(refs, full_refresh, reload)}
    try:
        with bar:
            result = dg.materialize(
                list(defs.assets or []),
                selection=[asset_key(r) for r in refs],
                instance=dg.DagsterInstance.get(),
                resources=defs.resources,
                run_config={
                    **config,
                    "loggers": {"console": {"config": {"log_level": _log_level(quiet)}}},
                },
                raise_on_error=False,
                tags={"regionlab/trigger": "cli"},
            )
    finally:
        unsubscribe()
    failures = _failures(result)
    return _name_skips([_outcome(r, runs.get(r), failures.get(r)) for r in refs], registry)


def _outcome(ref: str, run: Any, failure: str | None) -> Any:
    """The product's run, unless its Dagster step failed after the engine reported: then the
    step's failure (a product published by the engine whose step Dagster rejected must not
    read as published, nor leave its derived products silently skipped)."""
    if run is not None and (failure is None or run.status in FAILED):
        return run
    return _Missing(ref, failure)


def _execute_on_workers(
    refs: list[str],
    full_refresh: bool,
    reload: dict[str, str] | None = None,
    registry: Any = None,
) -> list[Any]:
    from pipelines.definitions_multiuser import run_products

    with console.status(f"running {len(refs)} products on the Celery workers"):
        result = run_products(refs, full_refresh=full_refresh, reload=reload)
    failures = _failures(result)
    published = {
        e.asset_key.to_user_string(): e.step_materialization_data.materialization.metadata
        for e in result.all_events
        if e.is_step_materialization
    }
    return _name_skips(
        [
            _Reported(r, published[r]) if r in published else _Missing(r, failures.get(r))
            for r in refs
        ],
        registry,
    )


class _Reported:
    """A product published on a worker, read back from its materialization metadata."""

    def __init__(self, ref: str, metadata: Any) -> None:
        self.product, self.status = ref, "published"
        self.rows_published = metadata["rows_published"].value
        self.snapshot_id = metadata["snapshot_id"].value
        self.quarantined = Counter(metadata["quarantined_by_reason"].value)


class _Missing:
    """A product that did not report: its step failed, or it was skipped because no upstream
    product changed (or an upstream failed)."""

    def __init__(self, ref: str, reason: str | None) -> None:
        self.product = ref
        self.status = "failed" if reason else "skipped"
        self.reason = reason or "not run: no upstream product changed, or an upstream failed"
        self.rows_published = 0
        self.snapshot_id = None
        self.quarantined: Counter[str] = Counter()


def _name_skips(runs: list[Any], registry: Any = None) -> list[Any]:
    """Say why each skipped product did not run: which upstream failed, or that none changed."""
    from regionlab.spec import load_domains

    registry = registry or load_domains()
    failed = {r.product for r in runs if r.status in FAILED}
    for r in runs:
        if r.status != "skipped":
            continue
        broken = [u for u in registry.product(r.product).upstream if u in failed]
        r.reason = (
            f"not run: upstream {', '.join(broken)} failed; fix it and run again"
            if broken
            else "not run: no upstream product changed"
        )
    return runs


def _failures(result: Any) -> dict[str, str]:
    """The user-facing reason of each failed step: its innermost error, without the traceback."""
    out: dict[str, str] = {}
    for event in result.all_events:
        if not event.is_step_failure:
            continue
        data = event.step_failure_data
        if data.user_failure_data and data.user_failure_data.description:
            reason = data.user_failure_data.description
        else:
            error = data.error
            while error is not None and error.cause is not None:
                error = error.cause
            reason = error.message.strip() if error is not None else "failed"
            reason = (
                reason.split(": ", 1)[-1]
                if reason.startswith(("regionlab.", "dagster."))
                else reason
            )
        out[event.step_key.replace("__", "/")] = reason
    return out


def emit_and_report() -> None:
    """Bring the catalogue and all its projections up to date with what was just published."""
    with console.status("updating the catalogue (DataHub metadata)"):
        from catalog.publish import emit_catalog

        result = emit_catalog()
    console.print(
        f"catalogue: {result.proposals} proposals → {result.json_path}"
        + (" and DataHub Lite" if result.lite_written is not None else "")
    )
    with console.status("rebuilding the catalogue site and the DCAT/ODCS exports"):
        from catalog.projections import refresh_projections

        built = refresh_projections()
    if built.site is not None:
        console.print(f"catalogue site: {built.site / 'index.html'} (`make catalog` serves it)")
    if built.dcat is not None:
        console.print(f"HealthDCAT-AP: {built.datasets} datasets → {built.dcat}")
    if built.odcs:
        console.print(f"ODCS: {len(built.odcs)} data contracts → {built.odcs[0].parent.parent}")
    for name, reason in built.skipped.items():
        console.print(styled("[yellow]{} not rebuilt:[/] {}", name, reason))


def summary_table(runs: list[Any]) -> Table:
    table = Table(title="regionlab run")
    for column in ("product", "status", "published", "quarantined", "snapshot"):
        table.add_column(
            column,
            overflow="fold",
            justify="right" if column in ("published", "quarantined", "snapshot") else "left",
        )
    for run in runs:
        quarantined = run.quarantined.total() if hasattr(run.quarantined, "total") else 0
        status = run.status
        style = STATUS_STYLE.get(status, "red")
        blocked = [c for c in getattr(run, "checks", []) if c.blocks]
        shown = status
        if status == "audit_failed" and blocked:
            shown += "\n" + "\n".join(_short(c) for c in blocked)
        table.add_row(
            run.product,
            styled(f"[{style}]{{}}[/]", shown),
            str(run.rows_published),
            str(quarantined),
            str(run.snapshot_id or "-"),
        )
    return table


def _short(check: Any) -> str:
    """A blocking failure in a table cell: the rule and its failing rows out of the total."""
    if check.unexpected_count is not None and check.element_count is not None:
        unit = getattr(check, "unit", "rows")
        return f"{check.check}: {check.unexpected_count} of {check.element_count} {unit}"
    return f"{check.check}: {check.status}"


def report_outcomes(runs: list[Any]) -> None:
    """Under the run table: one line per product saying what happened and what to do (why a
    failed one failed, where to look), then every check that could not run, with its reason
    (a warning rule does not stop the publish)."""
    for r in runs:
        problem = r.status in FAILED or bool(getattr(r, "rejected", None))
        problem = problem or bool(getattr(r, "changed", None) and not r.replace)
        console.print(
            outcome_line(r), style="red" if problem else None, markup=False, soft_wrap=True
        )
        for check in getattr(r, "checks", []):
            if check.status == "errored" and not check.blocks:
                console.print(
                    f"{r.product}: {check.explain()}", style="yellow", markup=False, soft_wrap=True
                )


class _Queued:
    """A derived product a deferred run left to the follow-up (recomputed after the publish)."""

    def __init__(self, ref: str) -> None:
        self.product, self.status = ref, "queued"
        self.reason = "queued: recomputed by the follow-up after this publish"
        self.rows_published = 0
        self.snapshot_id = None
        self.quarantined: Counter[str] = Counter()


def _spawn_follow_up(settings: Any) -> int | None:
    """Start the drain as a detached process (the user's command returns at once); its output
    goes to ``var/followups/follow-up.log``. ``REGIONLAB_FOLLOWUPS_BACKGROUND=0`` leaves the
    work queued for the next run (tests, or a deployment whose Dagster sensor drains)."""
    import subprocess
    import sys

    from regionlab.wap import followups

    if os.environ.get("REGIONLAB_FOLLOWUPS_BACKGROUND", "1") == "0":
        return None
    log = followups.folder(settings) / "follow-up.log"
    with open(log, "a", encoding="utf-8") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "regionlab", "run", "--follow-ups"],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    return proc.pid


def drain_follow_ups(registry: Any, catalogue_too: bool = False, quiet: bool = False) -> list[Any]:
    """Do the queued follow-up work of deferred runs: recompute the derived products they
    name (one Dagster run, upstreams not selected, so each recomputes at the current
    snapshot) and emit the catalogue once. Batches every marker found; loops until none is
    left (deliveries published meanwhile are picked up). A marker is removed only after its
    work was attempted: a crash leaves it for the next drain. ``catalogue_too``: the caller
    published something itself and wants the one emission to cover it.
    """
    from regionlab.settings import get_settings
    from regionlab.wap import followups

    settings = get_settings()
    order = [p.ref for p in registry.batch_order()]
    ran: list[Any] = []
    emit = catalogue_too
    with followups.drain_lock(settings):
        while True:
            todo = followups.pending(settings, order)
            if not todo:
                break
            console.print(f"follow-up: {todo.describe()}", markup=False, soft_wrap=True)
            refs = [r for r in todo.derived if r in registry.products]
            if refs:
                ran += execute(refs, quiet=quiet, registry=registry)
            if todo.catalogue or emit:
                emit_and_report()
                emit = False
            followups.clear(todo.markers)
    if emit:
        emit_and_report()
    return ran


def run(
    domain: str = typer.Option(None, "--domain", help="Only this domain's products."),
    product: str = typer.Option(None, "--product", help="Only this product (id or domain/id)."),
    full_refresh: bool = typer.Option(False, "--full-refresh", help="Reload every extract."),
    reload: str = typer.Option(
        None,
        "--reload",
        metavar="FILE",
        help="Replace the published rows of one loaded delivery (its path, or its name as "
        "`regionlab run` reports it) by its current content, in one snapshot; products "
        "derived from it are rebuilt.",
    ),
    catalog: bool = typer.Option(
        True, "--catalog/--no-catalog", help="Emit the catalogue when anything was published."
    ),
    defer: bool = typer.Option(
        False,
        "--defer",
        help="Publish the new deliveries (audited) and return; the derived products and the "
        "catalogue are queued and done by a background follow-up (or the next run).",
    ),
    follow_ups: bool = typer.Option(
        False,
        "--follow-ups",
        help="Only do the follow-up work deferred runs queued (derived products, catalogue).",
    ),
    watch: bool = typer.Option(
        False,
        "--watch",
        help="Keep running: publish each new delivery as it arrives (as --defer) and do the "
        "queued follow-up work when none waits; one warm process instead of one per delivery.",
    ),
    interval: float = typer.Option(
        2.0, "--interval", min=0.1, help="Seconds between polls (--watch)."
    ),
) -> None:
    """Run the domain pipelines: ingest → pseudonymise → audit → publish."""
    from regionlab.spec import load_domains

    registry = load_domains()
    if follow_ups:
        if defer or watch or reload or full_refresh or domain or product:
            raise UserError("--follow-ups does the queued follow-up work only; run it on its own")
        runs = drain_follow_ups(registry)
        if runs:
            console.print(summary_table(runs))
            report_outcomes(runs)
        else:
            console.print("follow-up: nothing queued")
        if any(r.status in FAILED for r in runs):
            raise typer.Exit(1)
        return
    reloads: dict[str, str] | None = None
    if reload:
        if full_refresh:
            raise UserError(
                "--reload replaces one delivery's rows and --full-refresh rebuilds from every "
                "delivery; give one of them"
            )
        refs, reloads = reload_targets(registry, reload, domain, product)
    else:
        refs = select(registry, domain, product)
    if watch:
        if reload or full_refresh or defer:
            raise UserError("--watch publishes new deliveries as they come; run it on its own")
        _watch(registry, refs, catalog, interval)
        return
    # Products with nothing to do are decided here; Dagster starts only for the others.
    todo, skipped = preflight(registry, refs, full_refresh, reloads)
    runs = _run_once(registry, refs, todo, skipped, full_refresh, reloads, catalog, defer)
    if any(r.status in FAILED or getattr(r, "rejected", None) for r in runs):
        raise typer.Exit(1)


def _run_once(
    registry: Any,
    refs: list[str],
    todo: list[str],
    skipped: dict[str, Any],
    full_refresh: bool,
    reloads: dict[str, str] | None,
    catalog: bool,
    defer: bool,
    watcher: bool = False,
) -> list[Any]:
    """Run what the preflight left to do and report it; with ``defer``, queue the derived
    products and the catalogue instead of waiting for them (a ``watcher`` drains them itself
    when no delivery is waiting; otherwise a background process starts)."""
    queued: Any = None
    deferred: list[str] = []
    if defer and todo:
        from regionlab.settings import get_settings
        from regionlab.wap import followups

        # A derived product whose upstreams this run publishes waits for them; one asked
        # for alone (no selected upstream) recomputes now, as without --defer.
        deferred = [r for r in todo if set(registry.product(r).upstream) & set(todo)]
        todo = [r for r in todo if r not in deferred]
        # Written (and held) before anything is published: a crash after the publish
        # leaves the follow-up queued, never lost.
        queued = followups.queue(get_settings(), deferred, catalog, "regionlab run --defer")
    ran = []
    try:
        if todo:
            ran = execute(
                todo, full_refresh=full_refresh, reload=reloads, registry=registry, quiet=watcher
            )
    except BaseException:
        if queued is not None:
            queued.release()  # the next drain does it: the publish may have happened
        raise
    by_ref = {r.product: r for r in ran} | skipped | {r: _Queued(r) for r in deferred}
    runs = _name_skips([by_ref[r] for r in refs], registry)
    if watcher:
        runs = [r for r in runs if r.status not in ("up_to_date", "skipped")]
    else:
        console.print(summary_table(runs))
    published = any(r.status == "published" for r in runs)
    # A rejected delivery changes what the catalogue says ("last delivery rejected") even when
    # nothing was published.
    changed = published or any(getattr(r, "rejected", None) for r in runs)
    followed: list[Any] = []
    if queued is not None:
        _hand_over(queued, runs, changed, deferred, catalog, background=not watcher)
    else:
        followed = _catch_up(registry, catalog and changed)
    report_outcomes(runs)
    if not watcher and not published and not any(r.status in FAILED for r in runs):
        console.print("nothing new: no product had new extracts or changed upstreams")
    return [*runs, *followed]  # a failed follow-up fails the command too


def _watch(registry: Any, refs: list[str], catalog: bool, interval: float) -> None:
    """The warm runner: one process that keeps its imports, Dagster definitions and instance,
    polls the delivery folders and publishes each new delivery at once (deferred), then does
    the queued follow-up work (derived products, one catalogue emission for all of them)
    whenever no delivery is waiting. A crash loses nothing: markers stay queued."""
    import signal
    import time

    from regionlab.settings import get_settings
    from regionlab.wap import followups

    def stop(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt  # a service manager's SIGTERM stops it like Ctrl-C

    signal.signal(signal.SIGTERM, stop)
    settings = get_settings()
    failed_on: Any = None
    console.print(
        f"watching {settings.sources_dir} every {interval:g} s (Ctrl-C stops): deliveries are "
        "published as they arrive; derived products and the catalogue follow when none waits",
        markup=False,
        soft_wrap=True,
    )
    try:
        while True:
            try:
                todo, skipped = preflight(registry, refs)
                state = _delivery_state(registry, todo) if todo else None
                if todo and state == failed_on:
                    time.sleep(interval)  # the same deliveries failed: wait for a change
                elif todo:
                    console.print(f"{time.strftime('%H:%M:%S')} new deliveries", markup=False)
                    runs = _run_once(
                        registry, refs, todo, skipped, False, None, catalog, True, True
                    )
                    failed_on = None
                    if not any(r.status == "published" for r in runs):
                        # e.g. a delivery whose audit blocks: it is not in the load log, so
                        # every poll would find it again and re-run it (a Dagster run and an
                        # audit each time); it is retried once its folder changes.
                        failed_on = state
                        console.print(
                            f"{time.strftime('%H:%M:%S')} waiting for a changed delivery of "
                            f"{', '.join(todo)} (or a restart) before trying again",
                            markup=False,
                            soft_wrap=True,
                        )
                        time.sleep(interval)
                elif followups.pending(settings):
                    for r in drain_follow_ups(registry, quiet=True):
                        console.print(f"follow-up: {outcome_line(r)}", markup=False, soft_wrap=True)
                    console.print(f"{time.strftime('%H:%M:%S')} follow-up done", markup=False)
                else:
                    time.sleep(interval)
            except UserError as exc:  # a message for the steward; the watch goes on
                console.print(f"{time.strftime('%H:%M:%S')} {exc}", style="red", markup=False)
                time.sleep(interval)
    except KeyboardInterrupt:
        console.print("stopped watching")


def _delivery_state(registry: Any, refs: list[str]) -> tuple[tuple[str, int, int], ...]:
    """Names, sizes and modification times of the deliveries of ``refs`` (no content): a
    watcher retries a failed run only once this changes (a reader without files: its names)."""
    from regionlab.settings import get_settings
    from regionlab.wap.sources import find_extracts

    sources = get_settings().sources_dir
    state = []
    for ref in refs:
        product = registry.product(ref)
        for extract in find_extracts(sources, product) if product.source else []:
            try:
                info = os.stat(extract.path)
                state.append((extract.name, info.st_size, info.st_mtime_ns))
            except OSError:
                state.append((extract.name, -1, -1))
    return tuple(state)


def _hand_over(
    queued: Any,
    runs: list[Any],
    changed: bool,
    deferred: list[str],
    catalog: bool,
    background: bool = True,
) -> None:
    """A deferred run: say what is current now and what is queued, and start the follow-up."""
    from regionlab.settings import get_settings

    if not changed:
        queued.withdraw()
        return
    now = [r.product for r in runs if r.status == "published"]
    later = [*deferred, *(["catalogue"] if catalog else [])]
    console.print(
        f"published now (audited, current): {', '.join(now) or 'nothing'}",
        markup=False,
        soft_wrap=True,
    )
    if not later:  # --no-catalog and nothing derived: no follow-up to keep
        queued.withdraw()
        return
    queued.release()
    pid = _spawn_follow_up(get_settings()) if background else None
    where = (
        f"by a background follow-up (pid {pid}, log var/followups/follow-up.log)"
        if pid is not None
        else "for this watcher when no delivery waits"
        if not background
        else "for the next `regionlab run` (or `regionlab run --follow-ups` now)"
    )
    console.print(f"queued {where}: {', '.join(later)}", markup=False, soft_wrap=True)


def _catch_up(registry: Any, emit: bool) -> list[Any]:
    """A normal run: finish follow-up work a deferred run left (a crash, a skipped background
    drain), then emit the catalogue once for everything. Returns the follow-up's runs: its
    markers are cleared even when a recompute failed, so the exit status must say so."""
    from regionlab.settings import get_settings
    from regionlab.wap import followups

    if followups.pending(get_settings()):
        runs = drain_follow_ups(registry, catalogue_too=emit)
        for r in runs:
            console.print(f"follow-up: {outcome_line(r)}", markup=False, soft_wrap=True)
        return runs
    if emit:
        emit_and_report()
    return []
