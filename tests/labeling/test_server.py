"""A real Label Studio server from its own venv: start, SDK round trip, lock-down, stop.

The session fixtures (one template, one shared server) are in conftest.py.
"""

from __future__ import annotations

import http.cookiejar
import importlib.metadata
import json
import socket
import stat
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import psutil
import pytest

from labeling import server as ls
from labeling.venv import LABEL_STUDIO_VERSION, SDK_VERSION
from regionlab.errors import UserError

pytestmark = pytest.mark.slow

LABEL_CONFIG = """
<View>
  <Text name="text" value="$text"/>
  <Choices name="finding" toName="text">
    <Choice value="relevant"/>
    <Choice value="not relevant"/>
  </Choices>
</View>
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def test_server_answers_with_pinned_version(ls_server: ls.LabelStudioServer) -> None:
    with urllib.request.urlopen(f"{ls_server.url}/api/version", timeout=5) as response:
        version = json.loads(response.read())
    assert version["release"] == LABEL_STUDIO_VERSION == ls_server.version
    # The version check against PyPI is off: nothing was looked up.
    assert version["label-studio-os-package"]["latest_version_from_pypi"] is None
    # The main environment talks to it with the SDK the server itself pins.
    assert importlib.metadata.version("label-studio-sdk") == SDK_VERSION


def test_listens_on_requested_port_on_loopback_only(ls_server: ls.LabelStudioServer) -> None:
    listening = [
        c
        for c in psutil.Process(ls_server.pid).net_connections(kind="inet")
        if c.status == psutil.CONN_LISTEN
    ]
    assert [(c.laddr.ip, c.laddr.port) for c in listening] == [("127.0.0.1", ls_server.port)]


def test_sdk_round_trip(ls_server: ls.LabelStudioServer, ls_var: Path) -> None:
    sdk = ls.client(var_dir=ls_var)
    project = sdk.projects.create(title="regionlab smoke", label_config=LABEL_CONFIG)
    tasks = [
        {"text": "Patienten har feber.", "row_key": "note-0001"},
        {"text": "Ingen tegn på infektion.", "row_key": "note-0002"},
    ]
    sdk.projects.import_tasks(project.id, request=tasks)
    read_back = list(sdk.tasks.list(project=project.id))
    assert sorted((t.data["row_key"], t.data["text"]) for t in read_back) == sorted(
        (t["row_key"], t["text"]) for t in tasks
    )
    assert sdk.projects.get(project.id).label_config.strip().startswith("<View>")


def test_anonymous_access_and_signup_are_refused(ls_server: ls.LabelStudioServer) -> None:
    with pytest.raises(urllib.error.HTTPError) as api:
        urllib.request.urlopen(f"{ls_server.url}/api/projects", timeout=5)
    assert api.value.code == 401

    jar = http.cookiejar.CookieJar()
    browser = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    browser.open(f"{ls_server.url}/user/signup/", timeout=10).read()
    csrf = next(c.value for c in jar if c.name == "csrftoken")
    form = urllib.parse.urlencode(
        {
            "email": "intruder@example.org",
            "password": "Intruder-pass-123",
            "csrfmiddlewaretoken": csrf,
        }
    ).encode()
    request = urllib.request.Request(
        f"{ls_server.url}/user/signup/", data=form, headers={"Referer": f"{ls_server.url}/"}
    )
    with pytest.raises(urllib.error.HTTPError) as signup:
        browser.open(request, timeout=10)
    assert signup.value.code == 403

    # Other modules of the session may add annotators; the intruder is never among the users.
    emails = [u.email for u in ls.client(ls_server).users.list()]
    assert ls_server.email in emails and "intruder@example.org" not in emails


def test_admin_logs_in_with_the_stored_password(
    ls_server: ls.LabelStudioServer, ls_var: Path
) -> None:
    stored = json.loads((ls_var / "secrets" / "labelstudio.json").read_text())

    def login(password: str) -> str:
        jar = http.cookiejar.CookieJar()
        browser = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
        browser.open(f"{ls_server.url}/user/login/", timeout=10).read()
        csrf = next(c.value for c in jar if c.name == "csrftoken")
        form = {"email": stored["email"], "password": password, "csrfmiddlewaretoken": csrf}
        request = urllib.request.Request(
            f"{ls_server.url}/user/login/",
            data=urllib.parse.urlencode(form).encode(),
            headers={"Referer": f"{ls_server.url}/"},
        )
        with browser.open(request, timeout=10) as response:
            return urllib.parse.urlparse(response.url).path

    assert login(stored["password"]) != "/user/login/"
    assert login(stored["password"] + "x") == "/user/login/"


def test_secrets_stay_in_the_0600_file(ls_server: ls.LabelStudioServer, ls_var: Path) -> None:
    secrets_file = ls_var / "secrets" / "labelstudio.json"
    assert stat.S_IMODE(secrets_file.stat().st_mode) == 0o600
    stored = json.loads(secrets_file.read_text())
    assert stored["token"] == ls_server.token.get_secret_value()
    assert stored["token"] not in repr(ls_server)
    log_text = ls_server.log_file.read_text()
    assert stored["password"] not in log_text and stored["token"] not in log_text
    cmdline = " ".join(psutil.Process(ls_server.pid).cmdline())
    assert stored["password"] not in cmdline and stored["token"] not in cmdline


def test_second_start_is_idempotent(
    ls_server: ls.LabelStudioServer, ls_var: Path, ls_venv: Path
) -> None:
    again = ls.start(var_dir=ls_var, venv_dir=ls_venv, port=_free_port())
    assert (again.pid, again.url) == (ls_server.pid, ls_server.url)
    assert ls.status(var_dir=ls_var) == ls_server


def test_taken_port_fails_clearly(tmp_path: Path, ls_template: Path, ls_venv: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(UserError, match=f"port {port}.*already in use"):
            ls.start(var_dir=tmp_path, from_template=ls_template, venv_dir=ls_venv, port=port)
    assert ls.status(var_dir=tmp_path) is None
    assert not (tmp_path / "labelstudio" / "server.pid").exists()


def test_server_that_moved_port_is_stopped_with_a_clear_error(
    tmp_path: Path, ls_template: Path, ls_venv: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The race the up-front check cannot close: the port is taken after we chose it."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        monkeypatch.setattr(ls, "_choose_port", lambda _port: port)
        with pytest.raises(RuntimeError, match=f"instead of {port}"):
            ls.start(var_dir=tmp_path, from_template=ls_template, venv_dir=ls_venv)
    data_dir = str(tmp_path / "labelstudio" / "data")
    leftovers = [
        p for p in psutil.process_iter(["cmdline"]) if data_dir in (p.info["cmdline"] or [])
    ]
    assert leftovers == []
    assert ls.status(var_dir=tmp_path) is None


def test_stop_really_stops(tmp_path: Path, ls_template: Path, ls_venv: Path) -> None:
    assert ls.status(var_dir=tmp_path) is None
    own = ls.start(var_dir=tmp_path, from_template=ls_template, venv_dir=ls_venv, port=_free_port())
    assert _port_open(own.port)
    assert ls.stop(var_dir=tmp_path) is True
    assert (
        not psutil.pid_exists(own.pid) or psutil.Process(own.pid).status() == psutil.STATUS_ZOMBIE
    )
    assert not _port_open(own.port)
    assert ls.status(var_dir=tmp_path) is None
    assert ls.stop(var_dir=tmp_path) is False
    with pytest.raises(UserError, match="not running"):
        ls.client(var_dir=tmp_path)


def test_cli_prints_url_and_login_and_password_only_on_request(
    ls_server: ls.LabelStudioServer, ls_var: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from cli.labeling_cmd import NOT_RUNNING_EXIT, app

    monkeypatch.setenv("REGIONLAB_VAR", str(ls_var))
    password = json.loads((ls_var / "secrets" / "labelstudio.json").read_text())["password"]
    runner = CliRunner()

    quiet = runner.invoke(app, ["server", "start"])
    assert quiet.exit_code == 0, quiet.output
    assert ls_server.url in quiet.output and ls_server.email in quiet.output
    assert password not in quiet.output

    shown = runner.invoke(app, ["server", "start", "--show-password"])
    assert shown.exit_code == 0, shown.output
    assert password in shown.output

    running = runner.invoke(app, ["server", "status"])
    assert running.exit_code == 0 and ls_server.url in running.output

    monkeypatch.setenv("REGIONLAB_VAR", str(ls_var / "elsewhere"))
    stopped = runner.invoke(app, ["server", "status"])
    assert stopped.exit_code == NOT_RUNNING_EXIT and "not running" in stopped.output
