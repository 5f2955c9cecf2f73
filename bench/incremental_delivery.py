"""One small new delivery → published, audited and catalogued: how long a user waits.

    uv run python -m bench.incremental_delivery --var /path/to/var [--var another] \
        [--rows 1000] [--rounds 3] [--modes run,defer] [--before /path/to/old/checkout]

Modes, each timed on its own new delivery in every round (in turn, so they share the
machine's load): ``run`` is ``regionlab run`` (published and catalogued when it exits);
``defer`` is ``regionlab run --defer``, timed to *published* (the command returns: the
delivery is audited and current) and to *catalogued* (its background follow-up has
recomputed the derived products and emitted the catalogue: no marker is left in
``var/followups/`` and no drain holds its lock); ``--before DIR`` adds ``before``: the
``regionlab run`` of another checkout (e.g. ``git archive 8992ba6 | tar -x -C DIR``).
``watch`` is one ``regionlab run --watch --interval 0.5`` process per var, started before
the rounds (the warm runner) and paused (SIGSTOP) while the other modes take their turn,
so it never loads their deliveries: a delivery is timed from the moment its file is complete to
the watcher's "published now" line and to its "follow-up done" line.
``--warmup`` untimed rounds come first (each code tree's first process compiles its
bytecode; run with ``PYTHONPYCACHEPREFIX`` set to keep it out of a shared environment).

Each ``--var`` must be fully published already (e.g. after ``regionlab demo`` or a
region-scale ``regionlab run``); it is changed: every round adds one contacts
delivery of ``--rows`` rows (copied from the latest delivery with new contact ids and
start times one day later, so they are new rows, not duplicates) and times the whole
``regionlab run`` a data steward would start (process start, preflight, Dagster,
write–audit–publish of the product, its derived products, catalogue emission).

Baseline in the same round: the data work alone — a fresh ``python`` process that
reads the same delivery file with DuckDB and writes it to Parquet. Giving two
``--var`` of different sizes shows whether the wait depends on the lake's size.
Prints a Markdown table (medians) and the load average; each run's own summary (its
per-product outcome, counts and times, never a value) is kept as
``<var>/bench-incremental-<round>.log``.
"""

from __future__ import annotations

import argparse
import os
import queue
import signal
import statistics
import subprocess
import sys
import threading
import time
from datetime import date, timedelta
from pathlib import Path

import duckdb

CONTACTS = Path("sources") / "lpr3" / "contacts"
RUN = (
    "import sys; sys.argv = ['regionlab', 'run']\n"
    "import cli\n"
    "try:\n    cli.main()\nexcept SystemExit as exc:\n    sys.exit(exc.code)\n"
)
BASELINE = (
    "import sys, duckdb\n"
    "duckdb.sql(f\"COPY (SELECT * FROM read_parquet('{sys.argv[1]}')) "
    "TO '{sys.argv[2]}' (FORMAT parquet)\")\n"
)


def _latest(folder: Path) -> Path:
    files = sorted(folder.glob("contacts_*.parquet"))
    if not files:
        raise SystemExit(f"{folder}: no contacts delivery; run regionlab synth first")
    return files[-1]


def _next_delivery(folder: Path, rows: int) -> Path:
    """A delivery dated the day after the latest, made of new rows (new ids, later times).

    The ids carry the delivery's date (``K`` + MMDD + a 5-digit number), so no two
    deliveries of this bench share one, in one invocation or across invocations.
    """
    latest = _latest(folder)
    day = date.fromisoformat(latest.stem.removeprefix("contacts_")) + timedelta(days=1)
    target = folder / f"contacts_{day.isoformat()}.parquet"
    tag = f"K{day:%m%d}"
    duckdb.sql(
        f"COPY (SELECT * REPLACE ('{tag}' || lpad(CAST(row_number() OVER () AS VARCHAR), 5, '0')"
        f" AS contact_id, start_time + INTERVAL 1 DAY AS start_time,"
        f" end_time + INTERVAL 1 DAY AS end_time)"
        f" FROM read_parquet('{latest}') LIMIT {rows}) TO '{target}' (FORMAT parquet)"
    )
    return target


def _timed(argv: list[str], env: dict[str, str], cwd: Path) -> tuple[float, str]:
    start = time.perf_counter()
    done = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{argv[:3]} failed:\n{done.stdout[-2000:]}{done.stderr[-2000:]}")
    return seconds, done.stdout


def _follow_up_busy(var: Path) -> bool:
    """A marker is queued (held or not) or a drain holds the lock."""
    from regionlab.settings import PROJECT_ROOT, Settings
    from regionlab.wap import followups

    settings = Settings(domains_dir=PROJECT_ROOT / "domains", var_dir=var)
    queued = any(followups.folder(settings).glob(f"*{followups.SUFFIX}"))
    return queued or followups.draining(settings)


def _wait_follow_up(var: Path, timeout: float = 1800.0) -> None:
    deadline = time.monotonic() + timeout
    time.sleep(0.2)  # the detached drain takes its lock within its first import
    while _follow_up_busy(var):
        if time.monotonic() > deadline:
            raise SystemExit(f"{var}: the follow-up did not finish in {timeout:.0f} s")
        time.sleep(0.05)


class _Watcher:
    """A ``regionlab run --watch`` process whose output lines are timed as they arrive."""

    def __init__(self, var: Path, env: dict[str, str], tree: Path) -> None:
        code = RUN.replace("'run']", "'run', '--watch', '--interval', '0.5']")
        env = {**env, "REGIONLAB_VAR": str(var), "PYTHONPATH": str(tree), "PYTHONUNBUFFERED": "1"}
        self.log = (var / "bench-incremental-watch.log").open("a", encoding="utf-8")
        self.proc = subprocess.Popen(
            [sys.executable, "-c", code],
            cwd=tree,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.lines: queue.Queue[tuple[float, str]] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()
        self.wait_for("watching ")

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.log.write(line)
            self.lines.put((time.perf_counter(), line))
        self.lines.put((time.perf_counter(), ""))

    def wait_for(self, prefix: str, timeout: float = 1800.0) -> float:
        while True:
            at, line = self.lines.get(timeout=timeout)
            if not line:
                raise SystemExit(f"the watcher ended (exit {self.proc.wait()}); see its log")
            if line.startswith(prefix) or f" {prefix}" in line:
                return at

    def pause(self) -> None:
        os.kill(self.proc.pid, signal.SIGSTOP)

    def resume(self) -> None:
        os.kill(self.proc.pid, signal.SIGCONT)

    def stop(self) -> None:
        self.resume()
        self.proc.terminate()
        self.proc.wait(timeout=120)
        self.log.close()


def _mode(
    mode: str,
    var: Path,
    rows: int,
    env: dict[str, str],
    trees: dict[str, Path],
    watcher: _Watcher | None = None,
) -> dict[str, float]:
    """One new delivery through one mode: seconds to published and to catalogued."""
    if mode == "watch":
        assert watcher is not None
        watcher.resume()
        # Written aside and renamed in, so the watcher never sees a half-written file.
        scratch = var / "bench-next"
        scratch.mkdir(exist_ok=True)
        made = _next_delivery(var / CONTACTS, rows)
        staged = scratch / made.name
        made.rename(staged)
        start = time.perf_counter()
        staged.rename(made)
        published = watcher.wait_for("published now") - start
        catalogued = watcher.wait_for("follow-up done") - start
        time.sleep(1.0)  # back in its idle poll before it is paused
        watcher.pause()
        return {"published": published, "catalogued": catalogued}
    delivery = _next_delivery(var / CONTACTS, rows)
    tree = trees[mode]
    env = {**env, "REGIONLAB_VAR": str(var), "PYTHONPATH": str(tree)}
    code = RUN.replace("'run']", "'run', '--defer']") if mode == "defer" else RUN
    start = time.perf_counter()
    published, out = _timed([sys.executable, "-c", code], env, tree)
    if mode == "defer":
        _wait_follow_up(var)
    catalogued = time.perf_counter() - start
    (var / f"bench-incremental-{delivery.stem}-{mode}.log").write_text(out, encoding="utf-8")
    if "patient_administration/contacts: published" not in out:
        raise SystemExit(f"the {mode} run did not mention contacts:\n{out[-2000:]}")
    return {"published": published, "catalogued": catalogued}


def _round(
    var: Path,
    rows: int,
    env: dict[str, str],
    trees: dict[str, Path],
    modes: list[str],
    watchers: dict[Path, _Watcher],
) -> dict[str, float]:
    repo = trees["run"]
    _wait_follow_up(var)
    delivery = _next_delivery(var / CONTACTS, rows)
    scratch = var / "bench-incremental.parquet"
    base, _ = _timed([sys.executable, "-c", BASELINE, str(delivery), str(scratch)], env, repo)
    scratch.unlink(missing_ok=True)
    delivery.unlink()  # the baseline's own delivery is not loaded: each mode gets a new one
    out: dict[str, float] = {"baseline": base, "load": os.getloadavg()[0]}
    for mode in modes:
        for key, value in _mode(mode, var, rows, env, trees, watchers.get(var)).items():
            out[f"{mode}:{key}"] = value
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--var", type=Path, action="append", required=True)
    parser.add_argument("--rows", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--warmup", type=int, default=1, help="Untimed rounds first.")
    parser.add_argument(
        "--modes", default="run,defer,watch", help="Comma-separated: run, defer, watch."
    )
    parser.add_argument("--before", type=Path, help="Another checkout to time as `before`.")
    args = parser.parse_args()
    repo = Path(__file__).resolve().parent.parent
    trees = {"run": repo, "defer": repo, "watch": repo}
    modes = [m for m in args.modes.split(",") if m]
    if args.before is not None:
        trees["before"] = args.before.resolve()
        modes = ["before", *modes]
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    watchers: dict[Path, _Watcher] = {}
    if "watch" in modes:  # started after the other modes' warm-up wrote the bytecode
        for _ in range(args.warmup):
            for var in args.var:
                _round(var, args.rows, env, trees, [m for m in modes if m != "watch"], {})
        watchers = {var: _Watcher(var, env, repo) for var in args.var}
        for watcher in watchers.values():
            watcher.pause()
    try:
        for _ in range(args.warmup):
            for var in args.var:
                _round(var, args.rows, env, trees, modes, watchers)
        load_before = os.getloadavg()[0]
        results: dict[Path, list[dict[str, float]]] = {var: [] for var in args.var}
        for _ in range(args.rounds):
            for var in args.var:
                results[var].append(_round(var, args.rows, env, trees, modes, watchers))
    finally:
        for watcher in watchers.values():
            watcher.stop()
    print(
        f"{args.rounds} rounds (after {args.warmup} untimed), one new contacts delivery of "
        f"{args.rows:,} rows per mode and round; 1-minute load average {load_before:.1f} "
        f"before, {os.getloadavg()[0]:.1f} after\n"
    )
    print(
        "| var | mode | to published: median (min) s | to catalogued: median (min) s "
        "| baseline: copy the delivery (s) | load per round |"
    )
    print("|---|---|---:|---:|---:|---|")
    for var, rounds in results.items():
        base = statistics.median(r["baseline"] for r in rounds)
        loads = "/".join(f"{r['load']:.1f}" for r in rounds)
        for mode in modes:
            cells = []
            for key in ("published", "catalogued"):
                values = [r[f"{mode}:{key}"] for r in rounds]
                cells.append(f"{statistics.median(values):.2f} ({min(values):.2f})")
            print(f"| {var} | {mode} | {cells[0]} | {cells[1]} | {base:.2f} | {loads} |")


if __name__ == "__main__":
    main()
