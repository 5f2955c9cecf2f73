"""Issue 16: an erasure that runs while an ingest is mid-flight.

The erasure must not delete a live run's staging file (the ingest used to crash),
must wait for the run (bounded, with a clear message when it cannot), and the
ingest that follows must still leave the erased persons out.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from typing import Any

import pytest

from regionlab import lake
from regionlab.erasure import erase, make_request
from regionlab.errors import UserError
from regionlab.settings import Settings
from regionlab.spec import load_domains
from regionlab.wap.engine import run_source_product
from tests.erasure.test_erase_everywhere import cprs_by_key

REGISTRY = load_domains()
PERSONS = REGISTRY.product("population/persons")


def _keys_in_persons() -> set[str]:
    con = lake.connect(read_only=True)
    try:
        return {
            r[0] for r in con.execute("SELECT person_key FROM lake.population.persons").fetchall()
        }
    finally:
        con.close()


def test_erasure_waits_for_an_inflight_ingest_which_then_honours_the_list(
    platform: Settings,
) -> None:
    pkey, cpr = next(iter(sorted(cprs_by_key(platform).items())))
    staging = platform.staging_file("population", "persons")
    seen: dict[str, Any] = {}

    def erase_now() -> None:
        try:
            seen["receipt"] = erase(make_request("R-inflight", "indsigelse", [cpr]))
        except BaseException as exc:  # reported by the test thread
            seen["error"] = exc

    def mid_flight() -> None:  # the run holds its lock, its raw rows are in staging
        eraser = threading.Thread(target=erase_now)
        eraser.start()
        seen["thread"] = eraser
        time.sleep(2.0)
        seen["erasure_waited"] = eraser.is_alive()
        seen["staging_kept"] = staging.exists()

    run = run_source_product(PERSONS, platform, before_publish=mid_flight)
    seen["thread"].join(timeout=300)
    assert "error" not in seen, seen.get("error")
    assert run.status == "published", run.blocking_failures
    assert seen["erasure_waited"] and seen["staging_kept"]

    # The erasure ran after the run published: it found the person and verified.
    receipt = seen["receipt"]
    assert receipt.verification.passed, receipt.verification
    assert (receipt.persons, receipt.persons_found) == (1, 1)
    assert pkey not in _keys_in_persons()

    # The ingest that follows re-reads the same extract: the person stays out.
    again = run_source_product(PERSONS, platform, full_refresh=True)
    assert again.status == "published", again.blocking_failures
    keys = _keys_in_persons()
    assert pkey not in keys and len(keys) > 1000


HOLD = """
import fcntl, os, sys, time
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o600)
fcntl.flock(fd, fcntl.LOCK_EX)
print("held", flush=True)
time.sleep(60)
"""


def test_erasure_gives_up_with_a_clear_message_when_a_run_holds_on(
    platform: Settings,
) -> None:
    assert run_source_product(PERSONS, platform).status == "published"
    pkey, cpr = next(iter(sorted(cprs_by_key(platform).items())))
    platform.staging_dir.mkdir(parents=True, exist_ok=True)
    lock = platform.staging_file("diagnoses", "diagnoses").with_suffix(".lock")
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(lock)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        started = time.monotonic()
        with pytest.raises(UserError) as caught:
            erase(make_request("R-busy", "indsigelse", [cpr]), wait=1.0)
        assert time.monotonic() - started < 30
    finally:
        holder.kill()
        holder.wait()
    message = str(caught.value)
    assert "diagnoses/diagnoses" in message and "in flight" in message
    assert "nothing was erased" in message
    assert cpr not in message and pkey not in message
    assert pkey in _keys_in_persons()
    assert not (platform.var_dir / "erasure" / "receipts" / "R-busy.json").exists()

    # Once the run is gone, the same request goes through.
    receipt = erase(make_request("R-busy", "indsigelse", [cpr]), wait=5.0)
    assert receipt.verification.passed and pkey not in _keys_in_persons()
