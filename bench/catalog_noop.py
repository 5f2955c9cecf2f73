"""Catalogue emission when nothing changed, against the JSON sink alone, in the same run.

Needs a var/ with a lake and an emitted catalogue (e.g. after ``regionlab demo``)::

    REGIONLAB_VAR=var uv run python -m bench.catalog_noop [--rounds 3]

Each round, interleaved so machine load hits them alike:

* ``full``: the emission after the Lite digests and the emission cache are dropped
  (``catalog.emitted.forget``, ``catalog.emission_cache.forget``), i.e. the lake read and
  every proposal upserted into DataHub Lite — what every emission cost before;
* ``lake facts cached``: the emission after only the emission state is dropped — what an
  emission costs when an input other than the lake, the specs and the register changed
  (a model report, a labelling manifest): proposals built, sinks written, Lite skipped;
* ``nothing new``: the emission right after it (no input changed: nothing is built);
* ``json sink``: writing the same proposals to the JSON file only (the baseline).

Every emission's steps are timed (``regionlab.steps``). Prints a Markdown table of the
medians and the load average before and after.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from typing import Any


def _timed_steps() -> tuple[dict[str, float], Callable[[str], Any]]:
    seconds: dict[str, float] = defaultdict(float)

    @contextlib.contextmanager
    def observer(name: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            seconds[name] += time.perf_counter() - start

    return seconds, observer


def _emit() -> tuple[float, dict[str, float], Any]:
    from catalog.publish import emit_catalog
    from regionlab.steps import observe

    steps, observer = _timed_steps()
    start = time.perf_counter()
    with observe(observer):
        result = emit_catalog()
    return time.perf_counter() - start, dict(steps), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    from catalog import emission_cache, emitted
    from catalog.sinks import write_json

    load_before = os.getloadavg()[0]
    _emit()  # warm-up: imports, extensions, and a state that describes Lite
    rows: dict[str, list[float]] = defaultdict(list)
    steps_of: dict[str, list[dict[str, float]]] = defaultdict(list)
    for _ in range(args.rounds):
        emitted.forget()
        emission_cache.forget()
        total, steps, result = _emit()
        assert not result.unchanged
        rows["full (lake read, every proposal to Lite)"].append(total)
        steps_of["full (lake read, every proposal to Lite)"].append(steps)
        emission_cache.forget_emission()
        total, steps, result = _emit()
        assert not result.unchanged and result.lite_written == 0, result.lite_written
        rows["lake facts cached (proposals built, sinks written)"].append(total)
        steps_of["lake facts cached (proposals built, sinks written)"].append(steps)
        total, steps, result = _emit()
        assert result.unchanged, "nothing changed in between"
        rows["nothing new"].append(total)
        steps_of["nothing new"].append(steps)
        from datahub.ingestion.source.file import read_metadata_file

        mcps = list(read_metadata_file(result.json_path))
        start = time.perf_counter()
        write_json(mcps, result.json_path.with_name("bench-metadata.json"))
        rows["json sink alone (baseline)"].append(time.perf_counter() - start)
    result.json_path.with_name("bench-metadata.json").unlink(missing_ok=True)
    print(
        f"{args.rounds} rounds, {result.proposals} proposals; medians; 1-minute load average "
        f"{load_before:.1f} before, {os.getloadavg()[0]:.1f} after\n"
    )
    names = ["fingerprint", "lake_facts", "build_proposals", "sink_json", "sink_datahub_lite"]
    print("| emission | total (s) | " + " | ".join(names) + " |")
    print("|---|---:|" + "---:|" * len(names))
    for name, values in rows.items():
        parts = [
            f"{statistics.median(s.get(n, 0.0) for s in steps_of[name]):.2f}"
            if steps_of.get(name)
            else ""
            for n in names
        ]
        print(f"| {name} | {statistics.median(values):.2f} | " + " | ".join(parts) + " |")


if __name__ == "__main__":
    main()
