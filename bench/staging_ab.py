"""The staging path alone (source-row quarantine + ``build_staged``), old vs new code.

The full load (``bench.staging_path``) is dominated by steps this change does not
touch, and on a shared machine their noise hides it; this times only the two
changed steps on one product's real ``raw``, ingested once::

    python -m bench.staging_ab --product laboratory/lab_results --repeat 3
    python -m bench.staging_ab --product laboratory/lab_results --repeat 3 --code /tmp/before

Each repetition copies the ingested staging file and runs the quarantine then
``build_staged`` of whichever checkout is first on ``sys.path`` (with ``--code``,
the older code: ``quarantine_duplicates`` + ``quarantine_invalid_cpr`` and
``build_staged`` with ``add_person_key``'s ALTER + UPDATE). Prints one JSON line:
wall and CPU seconds per step and repetition, row counts. Never a value.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import sys
import time
from pathlib import Path


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--product", default="laboratory/lab_results")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--code", type=Path)
    args = parser.parse_args()
    if args.code is not None:
        sys.path.insert(0, str(args.code))
    import duckdb

    import regionlab.wap.pseudonymise as pz
    from regionlab.privacy.keys import load_key
    from regionlab.settings import get_settings
    from regionlab.spec import load_domains
    from regionlab.wap.register_names import register_names
    from regionlab.wap.sources import find_extracts, ingest

    settings = get_settings()
    product = load_domains().product(args.product)
    files = find_extracts(settings.sources_dir, product)
    ref_date = max(f.date for f in files)
    key = load_key()
    register = register_names(settings.sources_dir)
    work = settings.var_dir / "bench_ab"
    work.mkdir(parents=True, exist_ok=True)
    source = work / f"{product.id}.ingested.duckdb"
    if not source.exists():  # shared by both variants: the same raw rows
        con = duckdb.connect(str(work / "tmp.duckdb"))
        ingest(con, product, list(files))
        con.close()
        (work / "tmp.duckdb").rename(source)
    runs = []
    for _ in range(args.repeat):
        copy = work / f"{product.id}.{os.getpid()}.duckdb"
        shutil.copy(source, copy)
        con = duckdb.connect(str(copy))
        times: dict[str, float] = {"load": os.getloadavg()[0]}
        wall, cpu = time.perf_counter(), _cpu()
        if hasattr(pz, "quarantine_source_defects"):  # the one-pass fold of 66e8dd0, reverted
            pz.quarantine_source_defects(con, product)
        else:
            pz.quarantine_duplicates(con, product)
            if product.person_column:
                pz.quarantine_invalid_cpr(con, product)
        times["quarantine_wall"], times["quarantine_cpu"] = (
            time.perf_counter() - wall,
            _cpu() - cpu,
        )
        wall, cpu = time.perf_counter(), _cpu()
        pz.build_staged(con, product, key, register, ref_date, "_extract")
        times["build_staged_wall"], times["build_staged_cpu"] = (
            time.perf_counter() - wall,
            _cpu() - cpu,
        )
        wall, cpu = time.perf_counter(), _cpu()
        con.execute("CHECKPOINT")
        times["checkpoint_wall"], times["checkpoint_cpu"] = time.perf_counter() - wall, _cpu() - cpu
        times["staged"] = con.execute("SELECT count(*) FROM staged").fetchone()[0]
        times["quarantined"] = con.execute("SELECT count(*) FROM quarantine").fetchone()[0]
        con.close()
        copy.unlink()
        Path(str(copy) + ".wal").unlink(missing_ok=True)
        runs.append(times)
    print(
        json.dumps(
            {
                "product": product.ref,
                "code": str(Path(pz.__file__).parents[2]),
                "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                "runs": runs,
            }
        )
    )


if __name__ == "__main__":
    main()
