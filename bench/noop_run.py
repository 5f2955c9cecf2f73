"""Wall time of ``regionlab run`` with nothing new, this checkout against an earlier commit.

Needs a var/ where everything is published already (e.g. after ``regionlab demo``)::

    REGIONLAB_VAR=var uv run python -m bench.noop_run --before <commit> [--rounds 3]

Alternates the two (the earlier commit unpacked by ``git archive`` into a temporary
folder and imported from there by this interpreter, so only the code differs) on the
same var/, after one warm-up each (which also writes the .pyc files). ``--no-catalog``
either way: a run with nothing published emits no catalogue. Prints a Markdown table
of medians and the load average.
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
RUN = (
    "import sys; sys.argv = ['regionlab', 'run', '--no-catalog']\n"
    "import cli\n"
    "try:\n    cli.main()\nexcept SystemExit as exc:\n    sys.exit(exc.code)\n"
)


def _time(cwd: Path, env: dict[str, str]) -> float:
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", RUN], cwd=cwd, env=env, capture_output=True, text=True
    )
    seconds = time.perf_counter() - start
    if done.returncode != 0 or "nothing new" not in done.stdout:
        raise SystemExit(f"not a no-op run in {cwd}:\n{done.stdout[-2000:]}{done.stderr[-2000:]}")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", required=True)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="noop-run-") as tmp:
        before = Path(tmp) / "before"
        before.mkdir()
        archive = subprocess.run(
            ["git", "-C", str(REPO), "archive", args.before], check=True, capture_output=True
        )
        subprocess.run(["tar", "-x", "-C", str(before)], input=archive.stdout, check=True)
        cases = {"this checkout": REPO, f"at {args.before}": before}
        times: dict[str, list[float]] = {name: [] for name in cases}
        for cwd in cases.values():
            _time(cwd, env)  # warm-up
        for _ in range(args.rounds):
            for name, cwd in cases.items():
                times[name].append(_time(cwd, env))
    print(
        f"{args.rounds} rounds, `regionlab run --no-catalog` with nothing new; 1-minute load "
        f"average {load_before:.1f} before, {os.getloadavg()[0]:.1f} after\n"
    )
    print("| code | median (s) | min (s) |")
    print("|---|---:|---:|")
    for name, values in times.items():
        print(f"| {name} | {statistics.median(values):.2f} | {min(values):.2f} |")


if __name__ == "__main__":
    main()
