"""Usage errors of every command group: usage line, a hint, exit status 2, never a traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import typer

import cli

REPO = Path(__file__).resolve().parents[2]


def _paths() -> tuple[list[tuple[str, ...]], list[tuple[str, ...]]]:
    """Every group and every leaf command of the real app, as argument paths."""
    cli._register()
    root = typer.main.get_command(cli.app)
    groups: list[tuple[str, ...]] = []
    commands: list[tuple[str, ...]] = []

    def walk(command: object, path: tuple[str, ...]) -> None:
        children = getattr(command, "commands", None)
        if children is None:
            # A pass-through (`catalog lite`) hands its options to the tool it wraps.
            settings = getattr(command, "context_settings", None) or {}
            if not settings.get("ignore_unknown_options"):
                commands.append(path)
            return
        # A group that runs on its own (`synth`: the batch extracts; `synth stream` below it)
        # is a command when called without a subcommand, not a usage error.
        (commands if getattr(command, "invoke_without_command", False) else groups).append(path)
        for name, child in children.items():
            walk(child, (*path, name))

    walk(root, ())
    return groups, commands


GROUPS, COMMANDS = _paths()


def _main(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    """Run the real entry point in this process; return its exit status and all output."""
    old = sys.argv
    sys.argv = ["regionlab", *args]
    try:
        with pytest.raises(SystemExit) as exited:
            cli.main()
    finally:
        sys.argv = old
    out = capsys.readouterr()
    return int(exited.value.code or 0), out.out + out.err


def test_the_app_has_groups_and_commands() -> None:
    # A guard against an enumeration that silently finds nothing.
    assert {(), ("permit",), ("catalog",), ("catalog", "export"), ("labeling", "server")} <= set(
        GROUPS
    )
    assert ("check",) in COMMANDS and ("catalog", "export", "dcat") in COMMANDS
    assert len(COMMANDS) >= 20


@pytest.mark.parametrize("path", GROUPS, ids=lambda p: " ".join(p) or "regionlab")
def test_group_without_arguments_shows_usage_and_exits_2(
    path: tuple[str, ...], capsys: pytest.CaptureFixture[str], var_dir: Path
) -> None:
    code, output = _main(list(path), capsys)
    assert code == 2, output
    assert "Usage: regionlab" in output
    assert "Traceback" not in output


@pytest.mark.parametrize("path", GROUPS + COMMANDS, ids=lambda p: " ".join(p) or "regionlab")
def test_unknown_option_shows_usage_and_a_hint_and_exits_2(
    path: tuple[str, ...], capsys: pytest.CaptureFixture[str], var_dir: Path
) -> None:
    code, output = _main([*path, "--no-such-option"], capsys)
    assert code == 2, output
    assert f"Usage: regionlab {' '.join(path)}".rstrip() in output
    assert f"Try 'regionlab {' '.join((*path, '--help'))}' for help." in output
    assert "No such option: --no-such-option" in output
    assert "Traceback" not in output


def _real(args: list[str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "REGIONLAB_VAR": str(tmp_path / "var"), "COLUMNS": "100"}
    return subprocess.run(
        [str(Path(sys.executable).parent / "regionlab"), *args],  # the installed entry point
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
        timeout=120,
    )


@pytest.mark.parametrize(
    ("args", "wanted"),
    [
        ([], "Usage: regionlab [OPTIONS] COMMAND [ARGS]..."),
        (["chek"], "No such command 'chek'. Did you mean 'check'?"),
        (["--bogus"], "No such option: --bogus"),
    ],
)
def test_first_contact_in_a_real_process(args: list[str], wanted: str, tmp_path: Path) -> None:
    done = _real(args, tmp_path)
    assert done.returncode == 2, done.stderr
    assert wanted in done.stdout + done.stderr
    assert "Traceback" not in done.stdout + done.stderr
