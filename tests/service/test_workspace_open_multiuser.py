"""Issue 19, multi-user profile: a researcher's own process opens its encrypted workspace.

Real OS accounts as in ``test_os_boundary.py``: the service runs as
``regionlab-svc`` over a hardened ``var/``; the workspace folder is given to the
project group (``regionlab workspace provision``), whose member
``regionlab-res`` runs the notebook's ``open_workspace``. That process cannot
read ``var/secrets``; it gets the key from ``POST /workspaces/{project}/open``
under anna's token. Another researcher's token gets 403, an account outside
the project group gets the key refused by the OS at the file, and after the
permit expires and the sweep runs the endpoint refuses.
"""

from __future__ import annotations

import json
import os
import shutil
import site
import subprocess
import tempfile
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import httpx
import pytest

from regionlab.platform.project_groups import group_name, provision_project
from regionlab.platform.zones import harden
from regionlab.privacy.keys import init_key
from regionlab.settings import Settings
from tests.research.handbuilt import INDEX, build_population_lake
from tests.service.live import free_port
from tests.service.test_os_boundary import (
    SYSTEM_PYTHON,
    _python_env,
    as_account,
    start_service,
    traversable,
)
from tests.service.test_zones import RESEARCHER_ACCOUNT, SERVICE_ACCOUNT, ensure_account

REPO = Path(__file__).resolve().parents[2]
OUTSIDER_ACCOUNT = "regionlab-out"
PROJECT = "ws-multi"
EXPIRES = date.today() + timedelta(days=30)

pytestmark = [
    pytest.mark.skipif(os.geteuid() != 0, reason="creates OS accounts: needs root (CI)"),
    pytest.mark.slow,
]

PERMIT = {
    "project_id": PROJECT,
    "title": "Multi-user workspace",
    "applicant": {"name": "Anna Forsker", "email": "anna@example.org"},
    "organisation": "Testuniversitetet",
    "purpose": "Testing workspaces opened by the researcher's own account.",
    "legal_basis": "GDPR art. 6(1)(e), 9(2)(j)",
    "products": [
        {"product": "population/persons", "columns": ["person_key", "age_band", "sex"]},
        {
            "product": "diagnoses/diagnoses",
            "columns": ["person_key", "diagnosis_code", "registered_at"],
        },
    ],
    "cohort": {
        "name": "t2d_all",
        "index_date": INDEX.isoformat(),
        "include": [{"kind": "diagnosis", "codes": ["DE11"]}],
    },
    "expires": EXPIRES.isoformat(),
}

#: What the researcher's notebook runs: open, count, try to step outside.
NOTEBOOK = """
import sys
from regionlab.errors import UserError
from regionlab.research import open_workspace
try:
    con = open_workspace(sys.argv[1])
except UserError as exc:
    print("REFUSED", exc)
    raise SystemExit(3)
one = lambda sql: con.execute(sql).fetchone()[0]
print("PERSONS", one("SELECT count(DISTINCT person_key) FROM population.persons"))
print("DIAGNOSES", one("SELECT count(*) FROM diagnoses.diagnoses"))
for sql in (f"SELECT * FROM read_text('{sys.argv[2]}')", "SET enable_external_access = true"):
    try:
        con.execute(sql)
        print("ALLOWED", sql)
    except Exception:
        print("BLOCKED")
"""


def _svc(platform: dict[str, object], args: list[str]) -> subprocess.CompletedProcess[str]:
    var = str(platform["var"])
    env = {"REGIONLAB_VAR": var, "REGIONLAB_KEY_FILE": f"{var}/secrets/pseudonym.key"}
    return as_account(SERVICE_ACCOUNT, Path(str(platform["svc_home"])), args, **env)


def _notebook(
    platform: dict[str, object], account: str, token: str
) -> subprocess.CompletedProcess[str]:
    home = Path(str(platform["root"])) / account
    env = {"REGIONLAB_SERVICE_URL": str(platform["url"]), "REGIONLAB_TOKEN": token,
           "REGIONLAB_VAR": str(platform["var"])}  # fmt: skip
    secret = Path(str(platform["var"])) / "secrets" / "pseudonym.key"
    return as_account(account, home, ["-c", NOTEBOOK, PROJECT, str(secret)], **env)


@pytest.fixture(scope="module")
def platform() -> Iterator[dict[str, object]]:
    with traversable([REPO, *map(Path, site.getsitepackages())]):
        yield from _platform()


def _platform() -> Iterator[dict[str, object]]:
    """A hardened var/ with the population lake, the service as its own account, anna's
    approved permit, the workspace built by the service and provisioned for regionlab-res."""
    if not os.access(SYSTEM_PYTHON, os.X_OK):
        pytest.fail(f"{SYSTEM_PYTHON} is needed to run as another account (apt install python3.11)")
    for account in (SERVICE_ACCOUNT, RESEARCHER_ACCOUNT, OUTSIDER_ACCOUNT):
        ensure_account(account)
    root = Path(tempfile.mkdtemp(prefix="regionlab-wsopen-"))
    root.chmod(0o755)
    var = root / "var"
    saved = {k: os.environ.get(k) for k in ("REGIONLAB_VAR", "REGIONLAB_KEY_FILE")}
    os.environ["REGIONLAB_VAR"] = str(var)
    os.environ["REGIONLAB_KEY_FILE"] = str(var / "secrets" / "pseudonym.key")
    try:
        init_key(var / "secrets" / "pseudonym.key")
        build_population_lake()
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    settings = Settings(domains_dir=REPO / "domains", var_dir=var)
    harden(settings, SERVICE_ACCOUNT)
    for account in (SERVICE_ACCOUNT, RESEARCHER_ACCOUNT, OUTSIDER_ACCOUNT):
        (root / account).mkdir(mode=0o700)
        shutil.chown(root / account, account, account)
    platform: dict[str, object] = {"var": var, "root": root, "svc_home": root / SERVICE_ACCOUNT}
    tokens = {}
    for name, role in (("anna", "researcher"), ("bo", "researcher"), ("olga", "access-officer")):
        issued = _svc(platform, ["-m", "regionlab", "users", "add", name, "--role", role])
        assert issued.returncode == 0, issued.stderr
        tokens[name] = next(w for w in issued.stdout.split() if w.startswith("rl_"))
    port = free_port()
    svc_env = _python_env(root / SERVICE_ACCOUNT, REGIONLAB_VAR=str(var),
                          REGIONLAB_KEY_FILE=str(var / "secrets" / "pseudonym.key"))  # fmt: skip
    command = ["runuser", "-u", SERVICE_ACCOUNT, "--", *svc_env,
               SYSTEM_PYTHON, "-m", "regionlab", "serve", "--port", str(port)]  # fmt: skip
    proc, url = start_service(command, port, root / "service.log")
    try:
        auth = {n: {"Authorization": f"Bearer {t}"} for n, t in tokens.items()}
        applied = httpx.post(f"{url}/permits/applications", json=PERMIT, headers=auth["anna"])
        assert applied.is_success, applied.text
        approved = httpx.post(
            f"{url}/permits/applications/{PROJECT}/approve", headers=auth["olga"], timeout=60
        )
        assert approved.is_success, approved.text
        built = _svc(platform, ["-m", "regionlab", "workspace", "build", PROJECT])
        assert built.returncode == 0, built.stderr
        provision_project(settings, PROJECT, SERVICE_ACCOUNT, [RESEARCHER_ACCOUNT])
        yield {**platform, "url": url, "tokens": tokens, "settings": settings}
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        shutil.rmtree(root)
        subprocess.run(["groupdel", group_name(PROJECT)], capture_output=True)


def test_the_members_own_process_opens_and_reads_its_workspace(
    platform: dict[str, object],
) -> None:
    tokens = platform["tokens"]
    assert isinstance(tokens, dict)
    settings = platform["settings"]
    assert isinstance(settings, Settings)
    # Control: this account cannot read the key itself (the service must hand it over).
    probe = as_account(
        RESEARCHER_ACCOUNT, Path(str(platform["root"])) / RESEARCHER_ACCOUNT,
        ["-c", f"open({str(settings.workspace_key_file(PROJECT))!r}).read()"],
    )  # fmt: skip
    assert probe.returncode != 0 and "PermissionError" in probe.stderr
    done = _notebook(platform, RESEARCHER_ACCOUNT, tokens["anna"])
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    manifest = json.loads(settings.workspace_manifest(PROJECT).read_text(encoding="utf-8"))
    assert lines[0] == f"PERSONS {manifest['cohort_persons']}"
    assert int(manifest["cohort_persons"]) > 0
    assert lines[1] == f"DIAGNOSES {manifest['products'][1]['rows']}"
    assert lines[2:] == ["BLOCKED", "BLOCKED"]


def test_a_researcher_without_the_permit_gets_403(platform: dict[str, object]) -> None:
    tokens = platform["tokens"]
    assert isinstance(tokens, dict)
    done = _notebook(platform, RESEARCHER_ACCOUNT, tokens["bo"])
    assert done.returncode == 3, done.stdout + done.stderr
    assert "bo does not hold its permit" in done.stdout and "Traceback" not in done.stderr
    raw = httpx.post(
        f"{platform['url']}/workspaces/{PROJECT}/open",
        headers={"Authorization": f"Bearer {tokens['bo']}"},
    )
    assert raw.status_code == 403 and "key" not in raw.json()


def test_an_account_outside_the_project_group_cannot_read_the_file(
    platform: dict[str, object],
) -> None:
    """Even with the permit holder's token (a leaked token), the OS keeps the file closed."""
    tokens = platform["tokens"]
    assert isinstance(tokens, dict)
    done = _notebook(platform, OUTSIDER_ACCOUNT, tokens["anna"])
    assert done.returncode == 3, done.stdout + done.stderr
    assert "member of the project's group" in done.stdout


def test_after_expiry_and_the_sweep_the_endpoint_refuses(platform: dict[str, object]) -> None:
    tokens = platform["tokens"]
    assert isinstance(tokens, dict)
    after = (EXPIRES + timedelta(days=1)).isoformat()
    expire = (
        "from datetime import date, timedelta\n"
        "from regionlab.research import permit_workflow as wf\n"
        "from regionlab.research.workspace_sweep import sweep_workspaces\n"
        f"app = wf.get_application({PROJECT!r})\n"
        "permit = app.permit.model_copy(update={'expires': date.today() - timedelta(days=1)})\n"
        f"path = wf.applications_dir() / '{PROJECT}.json'\n"
        "path.write_text(app.model_copy(update={'permit': permit}).model_dump_json(), 'utf-8')\n"
        f"done = sweep_workspaces(today=date.fromisoformat({after!r}))\n"
        "print(' '.join(r.project_id for r in done))\n"
    )
    swept = _svc(platform, ["-c", expire])
    assert swept.returncode == 0, swept.stderr
    assert swept.stdout.split() == [PROJECT]
    done = _notebook(platform, RESEARCHER_ACCOUNT, tokens["anna"])
    assert done.returncode == 3, done.stdout + done.stderr
    assert "expired on" in done.stdout
    settings = platform["settings"]
    assert isinstance(settings, Settings)
    assert not settings.workspace_file(PROJECT).exists()
