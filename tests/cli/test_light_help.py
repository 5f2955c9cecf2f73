"""`cli.light_help`: help renders exactly as before, and what it defers still works."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

RUN_MAIN = (
    "import sys, cli\nsys.argv = ['regionlab', *{args!r}]\n"
    "try:\n    cli.main()\nexcept SystemExit:\n    pass\n"
)
# The same, with typer's help renderer imported the ordinary way first (real Markdown
# and Traceback), so the light path is a no-op: the reference output.
RUN_MAIN_HEAVY = "import typer.rich_utils\n" + RUN_MAIN


def _run(code: str, tmp_path: Path) -> str:
    env = {
        **os.environ,
        "REGIONLAB_VAR": str(tmp_path / "var"),
        "COLUMNS": "100",
        "TERM": "xterm-256color",
        "FORCE_COLOR": "1",  # compare the styled output too, not only the words
    }
    env.pop("NO_COLOR", None)
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=REPO
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.mark.parametrize(
    "args", [["--help"], [], ["run", "--help"], ["catalog", "--help"], ["erase", "--help"]]
)
def test_help_is_identical_to_typers_own(args: list[str], tmp_path: Path) -> None:
    light = _run(RUN_MAIN.format(args=args), tmp_path)
    heavy = _run(RUN_MAIN_HEAVY.format(args=args), tmp_path)
    assert "Usage" in light
    assert "\x1b[" in light  # styled: the comparison covers Rich's rendering
    assert light == heavy


def test_deferred_names_still_work_and_modules_stay_real(tmp_path: Path) -> None:
    probe = """
import sys
from cli.light_help import import_rich_utils
import_rich_utils()
assert "rich.markdown" not in sys.modules and "rich.traceback" not in sys.modules
from typer import rich_utils
md = rich_utils._make_rich_text(text="**bold**", markup_mode="markdown")
import rich.markdown
assert type(md) is rich.markdown.Markdown, type(md)
assert isinstance(md, rich_utils.Markdown)
try:
    raise ValueError("x")
except ValueError as exc:
    tb = rich_utils.Traceback.from_exception(type(exc), exc, exc.__traceback__)
import rich.traceback
assert type(tb) is rich.traceback.Traceback
assert sys.modules["rich.markdown"] is rich.markdown and hasattr(rich.markdown, "MarkdownIt")
print("ok")
"""
    assert _run(probe, tmp_path).strip() == "ok"


def test_a_later_import_gets_the_real_module(tmp_path: Path) -> None:
    probe = """
from cli.light_help import import_rich_utils
import_rich_utils()
from rich.markdown import Markdown, Heading
from rich.traceback import install
import rich.markdown
assert Markdown is rich.markdown.Markdown and callable(install)
print("ok")
"""
    assert _run(probe, tmp_path).strip() == "ok"
