"""The embedded profile: a client starts the service on demand, records it, reuses it."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from regionlab.errors import UserError
from regionlab.research import client
from regionlab.research.audit_store import FEASIBILITY, open_store
from regionlab.research.cohort import Cohort, diagnosis
from service.roles import Role
from service.tokens import TokenStore
from tests.research.handbuilt import INDEX

T2D = Cohort.builder("t2d_all", index_date=INDEX).include(diagnosis("DE11")).build()


def _gone(pid: int, timeout: float = 30) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.2)
    return False


@pytest.fixture
def embedded(var_dir: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    monkeypatch.delenv(client.URL_ENV, raising=False)
    monkeypatch.delenv("REGIONLAB_PROFILE", raising=False)
    yield var_dir
    client.stop_embedded()


@pytest.mark.slow
def test_started_once_reused_and_a_stale_record_replaced(embedded: Path) -> None:
    runtime = embedded / "service" / "runtime.json"
    url = client.service_url()
    info = json.loads(runtime.read_text(encoding="utf-8"))
    assert url == info["url"] == f"http://127.0.0.1:{info['port']}"
    assert oct(runtime.stat().st_mode & 0o777) == "0o600"
    assert httpx.get(f"{url}/health").json() == {"status": "ok"}
    assert client.service_url() == url  # reused, not a second process
    assert json.loads(runtime.read_text(encoding="utf-8"))["pid"] == info["pid"]

    os.kill(info["pid"], signal.SIGKILL)  # dies without cleaning up: the record is stale
    assert _gone(info["pid"])
    assert runtime.exists()
    url2 = client.service_url()
    info2 = json.loads(runtime.read_text(encoding="utf-8"))
    assert info2["pid"] != info["pid"] and httpx.get(f"{url2}/health").status_code == 200

    runtime.write_text("not json", encoding="utf-8")  # a damaged record is replaced too
    client.service_url()
    info3 = json.loads(runtime.read_text(encoding="utf-8"))
    assert client.stop_embedded() == info3["pid"]
    assert _gone(info3["pid"]) and not runtime.exists()
    assert client.stop_embedded() is None
    if info2["pid"] != info3["pid"]:  # the damaged record hid a live one: stop it too
        os.kill(info2["pid"], signal.SIGTERM)
        assert _gone(info2["pid"])


@pytest.mark.slow
def test_an_idle_embedded_service_stops_itself(embedded: Path) -> None:
    (embedded / "service").mkdir(exist_ok=True)
    (embedded / "service" / "settings.toml").write_text("idle_seconds = 2\n", encoding="utf-8")
    client.service_url()
    runtime = embedded / "service" / "runtime.json"
    pid = json.loads(runtime.read_text(encoding="utf-8"))["pid"]
    assert _gone(pid, timeout=60)
    assert not runtime.exists()  # it removed its own record


@pytest.mark.slow
def test_the_cli_starts_the_service_asks_and_stops_it(
    embedded: Path, population: list[dict[str, object]], tmp_path: Path
) -> None:
    token = TokenStore(embedded / "service" / "identities.sqlite").issue("anna", Role.researcher)
    cohort = tmp_path / "t2d_all.yaml"
    cohort.write_text(T2D.to_yaml(), encoding="utf-8")
    env = {**os.environ, "REGIONLAB_TOKEN": token, "REGIONLAB_USER": "mallory"}

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "regionlab", *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
            cwd=tmp_path,
        )

    asked = cli("feasibility", str(cohort))
    assert asked.returncode == 0, asked.stderr
    assert "answered for anna" in asked.stdout
    status = cli("serve", "--status")
    assert status.returncode == 0 and "embedded service at http://127.0.0.1:" in status.stdout
    pid = json.loads((embedded / "service" / "runtime.json").read_text(encoding="utf-8"))["pid"]
    again = cli("feasibility", str(cohort), "--by", "sex")
    assert again.returncode == 0, again.stderr
    assert json.loads((embedded / "service" / "runtime.json").read_text("utf-8"))["pid"] == pid
    assert [e.user for e in open_store().entries(action=FEASIBILITY)] == ["anna", "anna"]
    stopped = cli("serve", "--stop")
    assert stopped.returncode == 0 and str(pid) in stopped.stdout
    assert _gone(pid)
    assert cli("serve", "--status").returncode == 1


def test_a_service_that_cannot_start_is_one_clear_error(embedded: Path) -> None:
    (embedded / "service").mkdir(exist_ok=True)
    (embedded / "service" / "settings.toml").write_text("min_cell = 1\n", encoding="utf-8")
    with pytest.raises(UserError, match=r"did not start .*service\.log"):
        client.service_url()
    assert not (embedded / "service" / "runtime.json").exists()
    assert "min_cell" in (embedded / "service" / "service.log").read_text(encoding="utf-8")
