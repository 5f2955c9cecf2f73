"""Review findings on the deferred follow-up: where it lives, the warm definitions, --interval."""

from __future__ import annotations

import gc

import pytest
from typer.testing import CliRunner

from regionlab.settings import Settings, get_settings
from regionlab.wap import followups
from tests.erasure.stores_check import unclaimed_files


def test_the_follow_up_folder_is_a_declared_var_location(var_dir) -> None:
    """Markers and the background log are claimed: harden and the stores check see them."""
    settings: Settings = get_settings()
    followups.queue(settings, ["research/readmissions_30d"], True, "test").release()
    (followups.folder(settings) / "follow-up.log").write_text("follow-up: catalogue\n")
    assert unclaimed_files(var_dir) == []


def test_warm_definitions_are_never_those_of_another_registry(monkeypatch) -> None:
    """A freed registry's id is reused by the next one; its definitions must not be served."""
    import pipelines.build
    from cli import run_cmd

    monkeypatch.setattr(
        pipelines.build, "build_definitions", lambda registry: ("defs", id(registry), registry)
    )
    monkeypatch.setattr(run_cmd, "_DEFINITIONS", {})

    class Registry:
        pass

    for _ in range(20):
        registry = Registry()
        assert run_cmd._definitions(registry)[2] is registry
        del registry
        gc.collect()


@pytest.mark.parametrize("interval", ["-1", "0"])
def test_a_watch_interval_below_a_tenth_is_a_usage_error(var_dir, interval: str) -> None:
    import typer

    from cli import run_cmd

    app = typer.Typer()
    app.command()(run_cmd.run)
    result = CliRunner().invoke(app, ["--watch", "--interval", interval])
    assert result.exit_code == 2 and not isinstance(result.exception, ValueError), result.output


def test_a_failed_follow_up_drained_by_a_plain_run_fails_the_command(var_dir, monkeypatch) -> None:
    """The drain clears its markers even when a recompute failed: the run's status must show it."""
    from types import SimpleNamespace

    from cli import run_cmd

    failed = SimpleNamespace(
        product="research/readmissions_30d", status="audit_failed", reason="blocked", checks=[]
    )
    monkeypatch.setattr(run_cmd, "drain_follow_ups", lambda registry, catalogue_too: [failed])
    monkeypatch.setattr(run_cmd, "outcome_line", lambda r: f"{r.product}: {r.status}")
    followups.queue(get_settings(), ["research/readmissions_30d"], False, "test").release()
    registry = SimpleNamespace(products={})
    runs = run_cmd._run_once(registry, [], [], {}, False, None, False, False)
    assert any(r.status in run_cmd.FAILED for r in runs)


def test_the_watcher_does_not_rerun_a_failed_delivery_until_it_changes(
    var_dir, monkeypatch
) -> None:
    """An audit-blocked delivery stays unloaded, so every poll finds it: run it once per change."""
    from types import SimpleNamespace

    from cli import run_cmd

    state = {"folder": ("contacts_2026-11-20.csv", 10, 1)}
    ran: list[list[str]] = []
    sleeps: list[float] = []

    def once(registry, refs, todo, *args):
        ran.append(todo)
        return [SimpleNamespace(product=todo[0], status="audit_failed")]

    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        if len(sleeps) == 3:
            state["folder"] = ("contacts_2026-11-20.csv", 12, 2)  # delivered again, fixed
        if len(sleeps) == 5:
            raise KeyboardInterrupt

    monkeypatch.setattr(run_cmd, "preflight", lambda registry, refs: (["a/contacts"], {}))
    monkeypatch.setattr(run_cmd, "_run_once", once)
    monkeypatch.setattr(run_cmd, "_delivery_state", lambda registry, refs: state["folder"])
    monkeypatch.setattr("time.sleep", sleep)
    monkeypatch.setattr("signal.signal", lambda *a: None)
    run_cmd._watch(SimpleNamespace(), ["a/contacts"], False, 0.5)
    assert ran == [["a/contacts"], ["a/contacts"]]


@pytest.mark.parametrize("other", [["--watch"], ["--defer"], ["--product", "persons"]])
def test_follow_ups_with_another_option_is_one_clear_message(var_dir, other: list[str]) -> None:
    """It would silently ignore the other option (and, with --watch, not watch at all)."""
    import typer

    from cli import run_cmd
    from regionlab.errors import UserError

    app = typer.Typer()
    app.command()(run_cmd.run)
    result = CliRunner().invoke(app, ["--follow-ups", *other])
    assert isinstance(result.exception, UserError), result.output
    assert "on its own" in str(result.exception)
