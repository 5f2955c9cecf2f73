"""The trust boundary held by the operating system: the service runs as its own account.

The service runs as ``regionlab-svc`` over a hardened ``var/``; the researcher is
another account with a token. Each bypass that issue 18 reproduced is tried
from the researcher's own process and must fail — by the OS (permission
denied) or by the service (the token and the server's settings decide).

The project's virtual environment links to an interpreter under ``/root`` that
other accounts cannot reach, so both accounts run Debian's ``python3.11`` (the
same minor version, so the same wheels) with the environment's site-packages
on ``PYTHONPATH``.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import site
import stat
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from regionlab.platform.zones import harden
from regionlab.research.cohort import Cohort, diagnosis
from regionlab.settings import Settings
from tests.research.handbuilt import INDEX, build_population_lake
from tests.service.live import free_port
from tests.service.test_zones import RESEARCHER_ACCOUNT, SERVICE_ACCOUNT, ensure_account

REPO = Path(__file__).resolve().parents[2]
SYSTEM_PYTHON = "/usr/bin/python3.11"

T2D = Cohort.builder("t2d_all", index_date=INDEX).include(diagnosis("DE11")).build()

pytestmark = [
    pytest.mark.skipif(os.geteuid() != 0, reason="creates OS accounts: needs root (CI)"),
    pytest.mark.slow,
]


def _python_env(home: Path, **extra: str) -> list[str]:
    paths = [*site.getsitepackages(), str(REPO)]
    pairs = {"HOME": str(home), "PYTHONPATH": os.pathsep.join(paths), "PATH": "/usr/bin:/bin"}
    for name in ("SSL_CERT_FILE", "REQUESTS_CA_BUNDLE"):
        if name in os.environ:
            pairs[name] = os.environ[name]
    pairs.update(extra)
    return ["env", "-i", *(f"{k}={v}" for k, v in pairs.items())]


def start_service(
    command: list[str], port: int, log_path: Path
) -> tuple[subprocess.Popen[bytes], str]:
    """Start ``regionlab serve`` (as another account) and wait until ``/health`` answers."""
    with open(log_path, "wb") as log:  # the child keeps its own copy of the descriptor
        proc = subprocess.Popen(command, stdout=log, stderr=log)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while True:
        try:
            if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            pass
        if proc.poll() is not None or time.monotonic() >= deadline:
            proc.kill()
            proc.wait()
        assert proc.poll() is None, log_path.read_text()[-2000:]
        assert time.monotonic() < deadline, "the service did not answer /health"
        time.sleep(0.3)


def as_account(
    account: str, home: Path, args: list[str], **env: str
) -> subprocess.CompletedProcess[str]:
    command = ["runuser", "-u", account, "--", *_python_env(home, **env), SYSTEM_PYTHON, *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=300)


@contextlib.contextmanager
def traversable(paths: list[Path]) -> Iterator[None]:
    """Let other accounts pass through the folders above the code (CI may clone under a 0700
    home): execute bit only, no listing; restored afterwards."""
    changed: dict[Path, int] = {}
    for path in paths:
        for folder in [path, *path.parents]:
            mode = folder.stat().st_mode
            if folder not in changed and not mode & stat.S_IXOTH:
                changed[folder] = stat.S_IMODE(mode)
                folder.chmod(stat.S_IMODE(mode) | stat.S_IXOTH)
    try:
        yield
    finally:
        for folder, mode in changed.items():
            folder.chmod(mode)


@pytest.fixture(scope="module")
def platform() -> Iterator[dict[str, object]]:
    with traversable([REPO, *map(Path, site.getsitepackages())]):
        yield from _platform()


def _platform() -> Iterator[dict[str, object]]:
    """A hardened var/ with a small lake, the service running as its own account."""
    if not os.access(SYSTEM_PYTHON, os.X_OK):
        pytest.fail(f"{SYSTEM_PYTHON} is needed to run as another account (apt install python3.11)")
    ensure_account(SERVICE_ACCOUNT)
    ensure_account(RESEARCHER_ACCOUNT)
    root = Path(tempfile.mkdtemp(prefix="regionlab-boundary-"))
    root.chmod(0o755)
    var = root / "var"
    homes = {a: root / a for a in (SERVICE_ACCOUNT, RESEARCHER_ACCOUNT)}
    old = os.environ.get("REGIONLAB_VAR")
    os.environ["REGIONLAB_VAR"] = str(var)
    try:
        build_population_lake()
    finally:
        if old is None:
            os.environ.pop("REGIONLAB_VAR")
        else:
            os.environ["REGIONLAB_VAR"] = old
    harden(Settings(domains_dir=REPO / "domains", var_dir=var), SERVICE_ACCOUNT)
    for account, home in homes.items():
        home.mkdir(mode=0o700)
        shutil.chown(home, account, account)
    svc_home = homes[SERVICE_ACCOUNT]
    issued = as_account(
        SERVICE_ACCOUNT, svc_home,
        ["-m", "regionlab", "users", "add", "anna", "--role", "researcher"],
        REGIONLAB_VAR=str(var),
    )  # fmt: skip
    assert issued.returncode == 0, issued.stderr
    token = next(w for w in issued.stdout.split() if w.startswith("rl_"))
    port = free_port()
    svc_env = _python_env(svc_home, REGIONLAB_VAR=str(var))
    command = ["runuser", "-u", SERVICE_ACCOUNT, "--", *svc_env,
               SYSTEM_PYTHON, "-m", "regionlab", "serve", "--port", str(port)]  # fmt: skip
    proc, url = start_service(command, port, root / "service.log")
    try:
        cohort = root / "t2d_all.json"
        cohort.write_text(json.dumps(T2D.model_dump(mode="json", by_alias=True, exclude_none=True)))
        cohort.chmod(0o644)
        yield {"var": var, "url": url, "token": token, "home": homes[RESEARCHER_ACCOUNT],
               "svc_home": svc_home, "cohort": cohort, "root": root}  # fmt: skip
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        shutil.rmtree(root)


def researcher(
    platform: dict[str, object], args: list[str], **env: str
) -> subprocess.CompletedProcess[str]:
    base = {"REGIONLAB_SERVICE_URL": str(platform["url"]),
            "REGIONLAB_TOKEN": str(platform["token"]),
            "REGIONLAB_VAR": str(platform["var"])}  # fmt: skip
    return as_account(RESEARCHER_ACCOUNT, Path(str(platform["home"])), args, **{**base, **env})


def test_the_researcher_counts_through_the_service(platform: dict[str, object]) -> None:
    done = researcher(platform, ["-m", "regionlab", "feasibility", str(platform["cohort"])])
    assert done.returncode == 0, done.stderr
    assert "t2d_all" in done.stdout


def test_the_researchers_process_cannot_open_the_lake_the_key_or_the_audit_store(
    platform: dict[str, object],
) -> None:
    var = Path(str(platform["var"]))
    probe = (
        "import sys\n"
        "for path in sys.argv[1:]:\n"
        "    try:\n"
        "        open(path, 'rb').read(1)\n"
        "        print('READ', path)\n"
        "    except PermissionError:\n"
        "        print('DENIED', path)\n"
    )
    targets = [var / "lake" / "catalog.sqlite", var / "secrets" / "pseudonym.key",
               var / "service" / "audit.sqlite", var / "service" / "identities.sqlite"]  # fmt: skip
    done = researcher(platform, ["-c", probe, *map(str, targets)])
    assert done.stdout.split("\n")[:-1] == [f"DENIED {t}" for t in targets], (
        done.stdout + done.stderr
    )
    connect = researcher(
        platform, ["-c", "from regionlab import lake; lake.connect(read_only=True)"]
    )
    assert connect.returncode != 0
    assert "Permission denied" in connect.stderr or "permission" in connect.stderr.lower()


def _audited_users(platform: dict[str, object]) -> list[str]:
    """Who the service's audit store says asked — read as the service account."""
    probe = (
        "from regionlab.research.audit_store import open_store, FEASIBILITY\n"
        "print(' '.join(e.user for e in open_store().entries() if e.action == FEASIBILITY))\n"
    )
    done = as_account(
        SERVICE_ACCOUNT, Path(str(platform["svc_home"])), ["-c", probe],
        REGIONLAB_VAR=str(platform["var"]),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return done.stdout.split()


def test_bypass_lowering_the_threshold_from_the_client_fails(platform: dict[str, object]) -> None:
    ask = ["-m", "regionlab", "feasibility", str(platform["cohort"]), "--by", "municipality"]
    low = researcher(platform, [*ask, "--threshold", "1"], REGIONLAB_MIN_CELL="1")
    assert low.returncode == 1 and "below the platform minimum of 5" in low.stderr
    shown = researcher(platform, ask, REGIONLAB_MIN_CELL="1")
    assert shown.returncode == 0, shown.stderr
    assert "<5" in shown.stdout  # Middelfart's three T2D members stay hidden


def test_bypass_another_var_or_user_name_still_audits_the_token_holder_centrally(
    platform: dict[str, object],
) -> None:
    before = _audited_users(platform)
    elsewhere = Path(str(platform["home"])) / "my-own-var"
    done = researcher(
        platform,
        ["-m", "regionlab", "feasibility", str(platform["cohort"])],
        REGIONLAB_VAR=str(elsewhere),
        REGIONLAB_USER="somebody-else",
    )
    assert done.returncode == 0, done.stderr
    after = _audited_users(platform)
    assert after == [*before, "anna"]
    assert not (elsewhere / "service").exists()


def test_bypass_a_researcher_cannot_decide_permits_or_read_the_audit(
    platform: dict[str, object],
) -> None:
    approve = researcher(platform, ["-m", "regionlab", "permit", "approve", "any-project"])
    assert approve.returncode == 1 and "not allowed" in approve.stderr
    replace = researcher(
        platform, ["-m", "regionlab", "permit", "approve", "any-project", "--replace"]
    )
    assert replace.returncode == 1 and "not allowed" in replace.stderr
    verify = researcher(platform, ["-m", "regionlab", "audit", "verify"])
    assert verify.returncode == 1 and "not allowed" in verify.stderr
    assert "Traceback" not in approve.stderr + replace.stderr + verify.stderr
