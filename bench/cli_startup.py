"""Wall time of ``regionlab --help`` against the floor of starting Python at all.

Usage::

    .tools/bin/uv run --frozen python -m bench.cli_startup              # 7 rounds
    .tools/bin/uv run --frozen python -m bench.cli_startup --rounds 15 --before <commit>

Every round runs, interleaved so machine load hits them alike: the baseline
``python -c pass``; the CLI's floor ``python -c "import typer, rich.console"``
(what any typer+rich CLI pays); the installed ``regionlab --help``; and, with
``--before``, the same ``--help`` from a ``git archive`` of that commit
(imported from its folder by this interpreter, so only the code differs). The
medians and their ratios to the baseline print as a Markdown table for
``bench/RESULTS.md`` ("CLI startup").
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
HELP_FROM_FOLDER = "import sys; sys.argv = ['regionlab', {args}]; import cli; cli.main()"
#: Help screens timed: the top level and a command's (which also runs the app callback).
HELPS = {"regionlab --help": "'--help'", "regionlab run --help": "'run', '--help'"}


def _time(argv: list[str], cwd: Path, env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(argv, cwd=cwd, env=env, stdout=subprocess.DEVNULL, check=False)
    return time.perf_counter() - start


def _unpack(commit: str, into: Path) -> Path:
    """The commit's files in ``into`` (``git archive``: no worktree is registered)."""
    into.mkdir()
    archive = subprocess.run(
        ["git", "-C", str(REPO), "archive", commit], check=True, capture_output=True
    )
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive.stdout, check=True)
    return into


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--before", help="A commit to compare with (e.g. main).")
    parser.add_argument(
        "--no-bytecode-cache",
        action="store_true",
        help="Keep PYTHONDONTWRITEBYTECODE from the environment (every start compiles "
        "every module from source). By default it is unset for the commands, so the "
        "warm-up writes .pyc files as an installed CLI's first start does.",
    )
    args = parser.parse_args()
    load_before = os.getloadavg()[0]
    python = sys.executable
    regionlab = str(Path(python).parent / "regionlab")
    with tempfile.TemporaryDirectory(prefix="cli-startup-") as tmp:
        env = {**os.environ, "REGIONLAB_VAR": str(Path(tmp) / "var"), "COLUMNS": "100"}
        # The installed script imports this checkout, not whichever one the venv was
        # installed from (an editable install points at one checkout).
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
        if not args.no_bytecode_cache:
            env.pop("PYTHONDONTWRITEBYTECODE", None)
        bytecode = "off" if env.get("PYTHONDONTWRITEBYTECODE") else "cached"
        cases: dict[str, tuple[list[str], Path]] = {
            "python -c pass (baseline)": ([python, "-c", "pass"], REPO),
            "import typer, rich.console (floor of a typer CLI)": (
                [python, "-c", "import typer, rich.console"],
                REPO,
            ),
        }
        for name in HELPS:
            cases[name] = ([regionlab, *name.split()[1:]], REPO)
        before_dir = Path(tmp) / "before"
        if args.before:
            _unpack(args.before, before_dir)
            for name, argv in HELPS.items():
                cases[f"{name} at {args.before}"] = (
                    [python, "-c", HELP_FROM_FOLDER.format(args=argv)],
                    before_dir,
                )
        times: dict[str, list[float]] = {name: [] for name in cases}
        for argv, cwd in cases.values():  # warm the file cache once
            _time(argv, cwd, env)
        for _ in range(args.rounds):
            for name, (argv, cwd) in cases.items():
                times[name].append(_time(argv, cwd, env))
    base = statistics.median(times["python -c pass (baseline)"])
    print(
        f"{args.rounds} rounds, median wall time, 1-minute load average "
        f"{load_before:.1f} before, {os.getloadavg()[0]:.1f} after; bytecode {bytecode}\n"
    )
    print("| command | median (s) | min (s) | × baseline |")
    print("|---|---:|---:|---:|")
    for name, values in times.items():
        med = statistics.median(values)
        print(f"| {name} | {med:.3f} | {min(values):.3f} | {med / base:.1f} |")


if __name__ == "__main__":
    main()
