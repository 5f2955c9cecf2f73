"""A researcher's count end to end: `regionlab feasibility` through the access service.

Usage (on a ``var/`` with a lake, e.g. the region after ``make bench``)::

    REGIONLAB_VAR=<var> .tools/bin/uv run --frozen python -m bench.feasibility_e2e \\
        [--rounds 5] [--before <commit>] [--cohort cohorts/t2d_region.yaml] [--by sex,age_band]

It issues fresh researcher tokens, starts (or reuses) the ``var/``'s embedded access
service the way the CLI does, waits for its in-memory copy of the newest snapshot, then
times per round, interleaved so machine load hits them alike:

* ``python -c pass`` — the floor of starting any Python process;
* ``regionlab feasibility <cohort> --by …`` — the whole command as a researcher runs it
  (process start, imports, configuration, finding the service, HTTP, the guarded answer,
  printing), this checkout's code, ``.pyc`` cached as after an installed CLI's first start;
* the same command at ``--before`` (a ``git worktree`` of that commit, same interpreter);
* the Python client in this process (``ServiceClient.feasibility``: HTTP + answer only);
* the service's own time for each CLI query (``answered … in S s``, the time the service
  measured from request to answer).

Each query is a refinement of the cohort (the first lab window starts ``q`` days
earlier; one researcher per series), as in :mod:`bench.service_latency`, so the
differencing defence does not lock the series out. Prints a Markdown table of medians
and the load average before and after. Every query is real and audited.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

from bench.service_latency import _series, _wait_for_copy

REPO = Path(__file__).resolve().parent.parent
CLI = "import sys; sys.argv = ['regionlab', *sys.argv[1:]]; import cli; cli.main()"
ANSWERED = re.compile(r"answered for \S+ in ([0-9.]+) s")


def _worktree(commit: str, into: Path) -> Path:
    subprocess.run(
        ["git", "-C", str(REPO), "worktree", "add", "--detach", str(into), commit],
        check=True,
        capture_output=True,
    )
    return into


def _cli(cwd: Path, args: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Wall time of one command and the service's own time it printed."""
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", CLI, *args], cwd=cwd, env=env, capture_output=True, text=True
    )
    wall = time.perf_counter() - start
    found = ANSWERED.search(done.stdout)
    if done.returncode != 0 or found is None:
        raise SystemExit(f"`regionlab {' '.join(args)}` failed:\n{done.stdout}\n{done.stderr}")
    return wall, float(found.group(1))


def _floor(env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", "pass"], env=env, check=True)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--before", help="A commit to compare with (e.g. main).")
    parser.add_argument("--cohort", type=Path, default=REPO / "cohorts" / "t2d_region.yaml")
    parser.add_argument("--by", default="sex,age_band")
    args = parser.parse_args()

    from regionlab.research.client import (
        ServiceClient,
        ensure_embedded,
        running_embedded,
        stop_embedded,
    )
    from regionlab.research.cohort import load_cohort
    from service.app import token_store
    from service.roles import Role
    from service.settings import load_service_settings

    base = load_cohort(args.cohort).model_dump(mode="json", by_alias=True, exclude_none=True)
    run = f"e2e-{int(time.time())}"
    cases = ["cli"] + (["before"] if args.before else []) + ["client"]
    tokens = {case: token_store().issue(f"{run}-{case}", Role.researcher) for case in cases}
    load_before = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    started_here = running_embedded() is None
    url = ensure_embedded()
    times: dict[str, list[float]] = {
        "python -c pass (baseline)": [],
        "regionlab feasibility (this code)": [],
        "  its service time": [],
    }
    if args.before:
        times[f"regionlab feasibility at {args.before}"] = []
        times[f"  its service time at {args.before}"] = []
    times["Python client in process (HTTP + answer)"] = []
    with tempfile.TemporaryDirectory(prefix="feas-e2e-") as tmp:
        folder = Path(tmp)
        before_dir = folder / "before"
        try:
            if args.before:
                _worktree(args.before, before_dir)
            copy_state = _wait_for_copy(ServiceClient(url, tokens["cli"]))
            files: dict[tuple[str, int], Path] = {}
            for case in cases:
                for q in range(args.rounds + 1):
                    path = folder / f"{case}-{q}.yaml"
                    path.write_text(yaml.safe_dump(_series(base, q)), encoding="utf-8")
                    files[case, q] = path
            env = {k: v for k, v in os.environ.items() if k != "REGIONLAB_SERVICE_URL"}
            env.pop("PYTHONDONTWRITEBYTECODE", None)  # as an installed CLI after its first start
            env["COLUMNS"] = "100"
            client = ServiceClient(url, tokens["client"])

            def one(case: str, q: int) -> None:
                argv = ["feasibility", str(files[case, q]), "--by", args.by]
                if case == "cli":
                    wall, served = _cli(REPO, argv, {**env, "REGIONLAB_TOKEN": tokens[case]})
                    times["regionlab feasibility (this code)"].append(wall)
                    times["  its service time"].append(served)
                elif case == "before":
                    wall, served = _cli(before_dir, argv, {**env, "REGIONLAB_TOKEN": tokens[case]})
                    times[f"regionlab feasibility at {args.before}"].append(wall)
                    times[f"  its service time at {args.before}"].append(served)
                else:
                    start = time.perf_counter()
                    client.feasibility(load_cohort(files[case, q]), args.by)
                    times["Python client in process (HTTP + answer)"].append(
                        time.perf_counter() - start
                    )

            _floor(env)
            for case in cases:  # warm-up: .pyc files, the file cache, the service's caches
                one(case, 0)
            for key in times:
                times[key].clear()
            for q in range(1, args.rounds + 1):
                times["python -c pass (baseline)"].append(_floor(env))
                for case in cases:
                    one(case, q)
        finally:
            if args.before:
                subprocess.run(
                    ["git", "-C", str(REPO), "worktree", "remove", "--force", str(before_dir)],
                    check=False,
                    capture_output=True,
                )
            if started_here:
                stop_embedded()
    settings = load_service_settings()
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"cohort {base['name']} by {args.by or '-'}; {args.rounds} rounds, interleaved; ")
    print(f"{os.cpu_count()} CPUs, load average {load_before} before, {load} at the end;")
    print(f"defence {'on' if settings.disclosure.enabled else 'off'}; {copy_state}\n")
    floor = statistics.median(times["python -c pass (baseline)"])
    print("| what | median (s) | min (s) | max (s) | × `python -c pass` |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for name, values in times.items():
        med = statistics.median(values)
        print(f"| {name} | {med:.3f} | {min(values):.3f} | {max(values):.3f} | {med / floor:.1f} |")


if __name__ == "__main__":
    main()
