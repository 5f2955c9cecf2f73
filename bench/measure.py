"""Run one benchmark stage in a child process and collect its timings and peak memory.

Why a child per stage: ``ru_maxrss`` only ever grows, so a stage measured in
the parent would report the peak of every stage before it. ``os.wait4`` gives
the rusage of exactly one child. Inside a child, :class:`RssSampler` records
the peak RSS of each sub-stage (ingest, pseudonymise, ...) that shares the
process, by sampling with psutil.
"""

from __future__ import annotations

import multiprocessing
import os
import resource
import threading
import time
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psutil

ROOT = Path(__file__).resolve().parent.parent


class StageFailed(RuntimeError):
    """A child stage exited non-zero; carries the tail of its stderr."""


PRELOAD = [
    "duckdb", "pandas", "polars", "pyarrow", "great_expectations", "regionlab.wap.engine",
    "pipelines.quality_hook", "quality.validate", "quality.runner", "catalog.publish",
    "catalog.sinks", "catalog.emit", "catalog.lake_facts",
    "regionlab.research.feasibility", "regionlab.research.workspace", "regionlab.synth.generate",
    "bench.stages",
]  # fmt: skip
_CONTEXT: Any = None


def _context() -> Any:
    """A forkserver that imports the heavy libraries once (20 s under load), then forks per stage.

    The server imports modules only; it opens no DuckDB connection and starts no
    threads of ours, so forking from it is safe. Each stage still gets a fresh
    process and its own ``ru_maxrss`` (which includes the ~0.3 GB of imported code).
    """
    global _CONTEXT
    if _CONTEXT is None:
        _CONTEXT = multiprocessing.get_context("forkserver")
        _CONTEXT.set_forkserver_preload(PRELOAD)
    return _CONTEXT


def _child(stage: str, args: dict[str, Any], env: dict[str, str], conn: Any) -> None:
    os.environ.update(env)
    try:
        from bench.stages import STAGES

        result = STAGES[stage](**args)
        result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        conn.send(("ok", result))
    except BaseException:  # the parent reports it and goes on with the next stage
        conn.send(("error", traceback.format_exc()[-3000:]))
    finally:
        conn.close()


def run_child(stage: str, args: dict[str, Any], env: dict[str, str]) -> dict[str, Any]:
    """Run ``bench.stages.STAGES[stage](**args)`` in a fresh child; result plus ``peak_rss_mb``."""
    ctx = _context()
    parent, child = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_child, args=(stage, args, env, child))
    proc.start()
    child.close()
    try:
        status, payload = parent.recv()
    except EOFError:
        status, payload = "error", "child died without a result"
    proc.join()
    if status != "ok" or proc.exitcode != 0:
        raise StageFailed(f"stage {stage} failed (exit {proc.exitcode}): {payload}")
    return payload


class RssSampler:
    """Peak RSS per named window, sampled every ``interval`` seconds in a thread.

    ``ru_maxrss`` cannot be reset, so sub-stages that share a process are told
    apart by sampling. Windows may nest (each open window sees every sample).
    Short spikes between samples can be missed; the interval is 10 ms, much
    shorter than any stage worth reporting.
    """

    def __init__(self, interval: float = 0.01) -> None:
        self._proc = psutil.Process()
        self._interval = interval
        self._active: dict[int, int] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self.windows: dict[str, dict[str, float]] = {}

    def _sample(self) -> None:
        rss = self._proc.memory_info().rss
        with self._lock:
            for k, peak in self._active.items():
                self._active[k] = max(peak, rss)

    def _run(self) -> None:
        while not self._stop.is_set():
            self._sample()
            time.sleep(self._interval)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    @contextmanager
    def window(self, name: str) -> Iterator[None]:
        """Time a block and record its peak RSS; repeated names add up (time) and max (RSS)."""
        token = object()
        with self._lock:
            self._active[id(token)] = 0
        self._sample()
        start = time.perf_counter()
        try:
            yield
        finally:
            seconds = time.perf_counter() - start
            self._sample()
            with self._lock:
                peak = self._active.pop(id(token))
            w = self.windows.setdefault(name, {"seconds": 0.0, "peak_rss_mb": 0.0, "calls": 0})
            w["seconds"] += seconds
            w["calls"] += 1
            w["peak_rss_mb"] = max(w["peak_rss_mb"], peak / 2**20)
