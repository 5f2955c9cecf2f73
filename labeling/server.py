"""Run a real Label Studio server for the project, from its own virtual environment.

Choices that are not obvious from the code:

- One background process per ``var/`` folder, bound to 127.0.0.1, SQLite and
  media in ``var/labelstudio/data``; pid, state and log files beside it. The
  process gets a minimal, explicit environment so nothing from the caller's
  shell (``USERNAME``, ``PASSWORD``, ``CI``, ``DEBUG``, ``HOST``, ``PORT`` are all
  read by Label Studio) changes its behaviour.
- Sign-up without an invite link is off, as are analytics, Sentry error
  reporting and the PyPI version check: nothing leaves the machine.
- Authentication uses Label Studio's *legacy* API token, enabled for the
  organisation when it is first created. It is set by us (random, 40 hex), does
  not expire and works with the SDK's ``api_key`` without a refresh round trip;
  a personal access token would need a logged-in session to mint.
- The first start runs ~40 s of Django migrations. ``prepare_template`` does that
  once into a folder; ``start(from_template=...)`` copies it and starts in
  seconds. The admin's credentials travel with the template.
- Label Studio silently moves to the next port when its port is taken, so we
  choose a free port first and then check that *our* process listens on it.
"""

from __future__ import annotations

import json
import logging
import os
import shlex
import shutil
import signal
import socket
import sqlite3
import subprocess
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import BaseModel, SecretStr

from labeling.credentials import AdminCredentials, read_credentials, write_credentials
from labeling.locks import file_lock
from labeling.venv import LABEL_STUDIO_VERSION, ensure_venv, executable
from regionlab.config import current
from regionlab.errors import UserError
from regionlab.profiles import Profile
from regionlab.settings import get_settings

if TYPE_CHECKING:
    from label_studio_sdk import LabelStudio

log = logging.getLogger(__name__)

HOST = "127.0.0.1"
DEFAULT_PORT = 8090
START_TIMEOUT_S = 120.0
INIT_TIMEOUT_S = 600.0
TEMPLATE_MARKER = "template.json"
DB_NAME = "label_studio.sqlite3"

__all__ = [
    "LabelStudioPaths",
    "LabelStudioServer",
    "client",
    "ensure_venv",
    "prepare_template",
    "start",
    "status",
    "stop",
]


class LabelStudioPaths(BaseModel):
    """Where one Label Studio instance keeps its state."""

    home: Path
    data_dir: Path
    secrets_file: Path

    @classmethod
    def resolve(cls, var_dir: Path | None = None, data_dir: Path | None = None) -> LabelStudioPaths:
        # Absolute: the server runs with another working directory.
        settings = get_settings()
        var = (Path(var_dir) if var_dir is not None else settings.var_dir).absolute()
        settings = settings.model_copy(update={"var_dir": var})
        home = settings.labelstudio_dir
        return cls(
            home=home,
            data_dir=Path(data_dir).absolute() if data_dir is not None else home / "data",
            secrets_file=settings.secrets_dir / "labelstudio.json",
        )

    @property
    def pid_file(self) -> Path:
        return self.home / "server.pid"

    @property
    def state_file(self) -> Path:
        return self.home / "server.json"

    @property
    def log_file(self) -> Path:
        return self.home / "server.log"

    @property
    def lock_file(self) -> Path:
        return self.home / ".server.lock"


class LabelStudioServer(BaseModel):
    """A running server: where it is and how to talk to it (token hidden in reprs)."""

    url: str
    port: int
    pid: int
    version: str
    email: str
    token: SecretStr
    data_dir: Path
    log_file: Path


class _State(BaseModel):
    """What ``start`` records for ``status``/``stop``; holds no secret."""

    pid: int
    port: int
    url: str
    version: str
    data_dir: Path
    started_at: datetime


# --------------------------------------------------------------------------- environment


def label_studio_env(profile: Profile) -> dict[str, str]:
    """Label Studio's own variables for a PostgreSQL database (its password: PGPASSWORD)."""
    if profile.label_studio_db != "postgresql":
        return {}
    parts = dict(t.partition("=")[::2] for t in shlex.split(profile.label_studio_postgres))
    return {
        "DJANGO_DB": "default",
        "POSTGRE_NAME": parts.get("dbname", "label_studio"),
        "POSTGRE_USER": parts.get("user", "postgres"),
        "POSTGRE_HOST": parts.get("host", "127.0.0.1"),
        "POSTGRE_PORT": parts.get("port", "5432"),
    }


def _server_env(data_dir: Path) -> dict[str, str]:
    """The whole environment of a Label Studio process, built from scratch."""
    env = {
        k: os.environ[k]
        for k in ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "TZ")
        if k in os.environ
    }
    env.update(
        {
            "LABEL_STUDIO_BASE_DATA_DIR": str(data_dir),
            "LABEL_STUDIO_DISABLE_SIGNUP_WITHOUT_LINK": "true",
            "LABEL_STUDIO_ALLOW_ORGANIZATION_CREATION": "false",
            "LABEL_STUDIO_ENABLE_LEGACY_API_TOKEN": "true",
            "LABEL_STUDIO_COLLECT_ANALYTICS": "false",
            "LABEL_STUDIO_LATEST_VERSION_CHECK": "false",
            "LABEL_STUDIO_SENTRY_DSN": "",
            "LABEL_STUDIO_FRONTEND_SENTRY_DSN": "",
            "LABEL_STUDIO_CONVERTER_DOWNLOAD_RESOURCES": "false",
            "LABEL_STUDIO_LOCAL_FILES_SERVING_ENABLED": "false",
            "LABEL_STUDIO_DEBUG": "false",
            "LOG_LEVEL": "WARNING",
            # Django's "Starting development server at ..." must reach the log at once.
            "PYTHONUNBUFFERED": "1",
        }
    )
    # The profile's database for Label Studio (none for the embedded SQLite default).
    env.update(label_studio_env(current().profile))
    return env


def _tail(path: Path, lines: int = 20) -> str:
    if not path.exists():
        return "(no log)"
    return "\n".join(path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])


# --------------------------------------------------------------------------- initialisation


def _has_db(data_dir: Path) -> bool:
    return (data_dir / DB_NAME).exists()


def _initialise(venv: Path, data_dir: Path, credentials: AdminCredentials) -> None:
    """Migrate a fresh data folder and create the admin with our token.

    Works in ``<data_dir>.partial`` and renames at the end, so an interrupted
    run never leaves a half-initialised folder that ``start`` would trust.
    """
    partial = data_dir.with_name(data_dir.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True, mode=0o700)
    env = _server_env(partial)
    # Secrets go through the environment of this one process, never argv.
    env["LABEL_STUDIO_USERNAME"] = credentials.email
    env["LABEL_STUDIO_PASSWORD"] = credentials.password.get_secret_value()
    env["LABEL_STUDIO_USER_TOKEN"] = credentials.token.get_secret_value()
    init_log = partial.parent / f"{data_dir.name}.init.log"
    cmd = [str(executable(venv)), "init", "--quiet", "--enable-legacy-api-token"]
    cmd += ["--data-dir", str(partial), "--log-level", "WARNING"]
    with init_log.open("wb") as out:
        proc = subprocess.run(
            cmd,
            env=env,
            cwd=partial,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            timeout=INIT_TIMEOUT_S,
            check=False,
        )
    if proc.returncode != 0:
        raise RuntimeError(f"label-studio init failed ({proc.returncode}):\n{_tail(init_log)}")
    _check_admin_created(partial / DB_NAME, credentials)
    shutil.rmtree(data_dir, ignore_errors=True)
    os.replace(partial, data_dir)


def _check_admin_created(db: Path, credentials: AdminCredentials) -> None:
    """Label Studio's init skips the user quietly on some inputs: check the database."""
    with sqlite3.connect(db) as con:
        (users,) = con.execute(
            "select count(*) from htx_user where email = ? and is_superuser", (credentials.email,)
        ).fetchone()
        (tokens,) = con.execute(
            "select count(*) from authtoken_token where key = ?",
            (credentials.token.get_secret_value(),),
        ).fetchone()
        (legacy,) = con.execute(
            "select count(*) from jwt_auth_jwtsettings where legacy_api_tokens_enabled"
        ).fetchone()
    if not (users == 1 and tokens == 1 and legacy == 1):
        raise RuntimeError(
            f"label-studio init did not create the admin with its API token in {db} "
            f"(users={users}, tokens={tokens}, legacy_token_orgs={legacy})"
        )


def _template_ready(template_dir: Path) -> bool:
    marker = template_dir / TEMPLATE_MARKER
    if not (marker.exists() and _has_db(template_dir / "data")):
        return False
    if not (template_dir / "credentials.json").exists():
        return False
    meta = json.loads(marker.read_text(encoding="utf-8"))
    return meta.get("label_studio_version") == LABEL_STUDIO_VERSION


def prepare_template(template_dir: Path, *, venv_dir: Path | None = None) -> Path:
    """Initialise a data folder once (migrations, admin, token) for fast starts.

    Layout: ``data/`` (Label Studio's data folder), ``credentials.json`` (0600)
    and ``template.json`` (version marker, written last). Idempotent: a ready
    template of the pinned version is returned as is.
    """
    template_dir = Path(template_dir)
    if _template_ready(template_dir):
        return template_dir
    template_dir.parent.mkdir(parents=True, exist_ok=True)
    with file_lock(template_dir.parent / f".{template_dir.name}.lock"):
        if _template_ready(template_dir):
            return template_dir
        venv = ensure_venv(venv_dir)
        shutil.rmtree(template_dir, ignore_errors=True)
        template_dir.mkdir(parents=True, mode=0o700)
        credentials = AdminCredentials.generate()
        _initialise(venv, template_dir / "data", credentials)
        write_credentials(template_dir / "credentials.json", credentials)
        meta = {
            "label_studio_version": LABEL_STUDIO_VERSION,
            "created_at": datetime.now(UTC).isoformat(),
        }
        (template_dir / TEMPLATE_MARKER).write_text(json.dumps(meta, indent=2), encoding="utf-8")
    return template_dir


def _ensure_data(
    paths: LabelStudioPaths, venv: Path, from_template: Path | None
) -> AdminCredentials:
    """Make sure the data folder exists and return the admin credentials that fit it."""
    if _has_db(paths.data_dir):
        return read_credentials(paths.secrets_file)
    if from_template is not None:
        template = prepare_template(from_template, venv_dir=venv)
        credentials = read_credentials(template / "credentials.json")
        shutil.rmtree(paths.data_dir, ignore_errors=True)
        paths.data_dir.parent.mkdir(parents=True, exist_ok=True)
        shutil.copytree(template / "data", paths.data_dir)
        write_credentials(paths.secrets_file, credentials)
        return credentials
    log.info("initialising Label Studio in %s (first start runs migrations)", paths.data_dir)
    credentials = AdminCredentials.generate()
    paths.data_dir.parent.mkdir(parents=True, exist_ok=True)
    # Credentials first: if we stop between the two writes, the data folder is
    # still missing and the next start initialises again with new credentials.
    write_credentials(paths.secrets_file, credentials)
    _initialise(venv, paths.data_dir, credentials)
    return credentials


# --------------------------------------------------------------------------- ports, processes


def _port_in_use(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        if sock.connect_ex((HOST, port)) == 0:
            return True
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((HOST, port))
        except OSError:
            return True
    return False


def _ephemeral_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def _choose_port(port: int | None) -> int:
    """An explicit port must be free; otherwise the default, or any free port."""
    if port is not None:
        if _port_in_use(port):
            raise UserError(
                f"port {port} on {HOST} is already in use: stop what listens there, or start "
                "Label Studio without --port to pick a free one."
            )
        return port
    return DEFAULT_PORT if not _port_in_use(DEFAULT_PORT) else _ephemeral_port()


def _process(pid: int, data_dir: Path):  # -> psutil.Process | None
    """The live Label Studio process with this pid serving this data folder, if any."""
    import psutil

    try:
        proc = psutil.Process(pid)
        if proc.status() == psutil.STATUS_ZOMBIE:
            proc.wait(timeout=0)  # reap our own exited child
            return None
        cmdline = proc.cmdline()
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.TimeoutExpired):
        return None
    if not any("label-studio" in part for part in cmdline) or str(data_dir) not in cmdline:
        return None  # the pid was reused by something else
    return proc


def _listening_ports(pid: int) -> set[int]:
    import psutil

    try:
        conns = psutil.Process(pid).net_connections(kind="tcp")
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return set()
    return {c.laddr.port for c in conns if c.status == psutil.CONN_LISTEN}


def _get_json(url: str, token: str | None = None, timeout: float = 3.0) -> dict:
    request = urllib.request.Request(url)
    if token is not None:
        request.add_header("Authorization", f"Token {token}")
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return json.loads(response.read().decode("utf-8"))


def _healthy(url: str) -> bool:
    try:
        return _get_json(f"{url}/health").get("status") == "UP"
    except (OSError, ValueError):
        return False


def _read_state(paths: LabelStudioPaths) -> _State | None:
    if not paths.state_file.exists():
        return None
    try:
        return _State.model_validate_json(paths.state_file.read_text(encoding="utf-8"))
    except ValueError:
        return None


def _clear_state(paths: LabelStudioPaths) -> None:
    paths.pid_file.unlink(missing_ok=True)
    paths.state_file.unlink(missing_ok=True)


def _terminate(pid: int, timeout: float) -> None:
    """SIGTERM the server's process group, SIGKILL what is left after ``timeout``."""
    import psutil

    try:
        proc = psutil.Process(pid)
        group = os.getpgid(pid) == pid
        (os.killpg if group else os.kill)(pid, signal.SIGTERM)
        try:
            proc.wait(timeout=timeout)
        except psutil.TimeoutExpired:
            (os.killpg if group else os.kill)(pid, signal.SIGKILL)
            proc.wait(timeout=timeout)
    except (psutil.NoSuchProcess, ProcessLookupError):
        pass


# --------------------------------------------------------------------------- public API


def status(*, var_dir: Path | None = None) -> LabelStudioServer | None:
    """The running, healthy server of this ``var/`` folder, or None."""
    paths = LabelStudioPaths.resolve(var_dir)
    state = _read_state(paths)
    if state is None:
        return None
    if _process(state.pid, state.data_dir) is None:
        _clear_state(paths)  # stale: the process is gone
        return None
    if not _healthy(state.url):
        return None
    credentials = read_credentials(paths.secrets_file)
    return LabelStudioServer(
        url=state.url,
        port=state.port,
        pid=state.pid,
        version=state.version,
        email=credentials.email,
        token=credentials.token,
        data_dir=state.data_dir,
        log_file=paths.log_file,
    )


def start(
    *,
    var_dir: Path | None = None,
    data_dir: Path | None = None,
    from_template: Path | None = None,
    port: int | None = None,
    venv_dir: Path | None = None,
    timeout: float = START_TIMEOUT_S,
) -> LabelStudioServer:
    """Start Label Studio in the background and wait until it answers; idempotent.

    A server already running for this ``var/`` folder is returned as it is
    (``port`` is then ignored). Without a data folder, one is copied from
    ``from_template`` (prepared on first use) or initialised in place.
    """
    paths = LabelStudioPaths.resolve(var_dir, data_dir)
    paths.home.mkdir(parents=True, exist_ok=True)
    with file_lock(paths.lock_file):
        running = status(var_dir=var_dir)
        if running is not None:
            return running
        state = _read_state(paths)
        if state is not None and _process(state.pid, state.data_dir) is not None:
            # Alive but not answering: replace it rather than start a second one.
            _terminate(state.pid, timeout=15)
        _clear_state(paths)
        venv = ensure_venv(venv_dir)
        credentials = _ensure_data(paths, venv, from_template)
        chosen = _choose_port(port)
        return _launch(paths, venv, chosen, credentials, timeout)


def _launch(
    paths: LabelStudioPaths,
    venv: Path,
    port: int,
    credentials: AdminCredentials,
    timeout: float,
) -> LabelStudioServer:
    url = f"http://{HOST}:{port}"
    cmd = [str(executable(venv)), "start", "--no-browser", "--internal-host", HOST]
    cmd += ["--port", str(port), "--data-dir", str(paths.data_dir), "--log-level", "WARNING"]
    log.info("starting Label Studio %s on %s", LABEL_STUDIO_VERSION, url)
    with paths.log_file.open("ab") as out:
        out.write(f"\n--- {datetime.now(UTC).isoformat()} start on port {port}\n".encode())
        out.flush()
        proc = subprocess.Popen(
            cmd,
            env=_server_env(paths.data_dir),
            cwd=paths.home,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # own process group: stop() takes all of it
        )
    paths.pid_file.write_text(f"{proc.pid}\n", encoding="utf-8")
    try:
        version = _wait_until_serving(proc, port, url, paths.log_file, timeout)
        _check_token(url, credentials, paths)
    except BaseException:
        _terminate(proc.pid, timeout=10)
        _clear_state(paths)
        raise
    state = _State(
        pid=proc.pid,
        port=port,
        url=url,
        version=version,
        data_dir=paths.data_dir,
        started_at=datetime.now(UTC),
    )
    paths.state_file.write_text(state.model_dump_json(indent=2), encoding="utf-8")
    log.info("Label Studio %s is up on %s (pid %d)", version, url, proc.pid)
    return LabelStudioServer(
        url=url,
        port=port,
        pid=proc.pid,
        version=version,
        email=credentials.email,
        token=credentials.token,
        data_dir=paths.data_dir,
        log_file=paths.log_file,
    )


def _wait_until_serving(
    proc: subprocess.Popen[bytes], port: int, url: str, log_file: Path, timeout: float
) -> str:
    """Wait until *this* process listens on ``port`` and answers; return its version."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(
                f"Label Studio exited with status {proc.returncode} during start-up; "
                f"last lines of {log_file}:\n{_tail(log_file)}"
            )
        ports = _listening_ports(proc.pid)
        if ports and port not in ports:
            raise RuntimeError(
                f"Label Studio listens on port(s) {sorted(ports)} instead of {port} "
                "(it moves silently when a port is taken); stopped it."
            )
        if port in ports and _healthy(url):
            return str(_get_json(f"{url}/api/version").get("release", "unknown"))
        time.sleep(0.25)
    raise RuntimeError(
        f"Label Studio did not answer on {url} within {timeout:.0f} s; "
        f"last lines of {log_file}:\n{_tail(log_file)}"
    )


def _check_token(url: str, credentials: AdminCredentials, paths: LabelStudioPaths) -> None:
    """Fail at start, not at first use, when the secrets file does not fit the data."""
    try:
        who = _get_json(f"{url}/api/current-user/whoami", credentials.token.get_secret_value())
    except urllib.error.HTTPError as exc:
        raise UserError(
            f"{paths.secrets_file}: the API token is refused by Label Studio (HTTP {exc.code}); "
            f"the file does not belong to the data folder {paths.data_dir}. Restore the file, "
            "or remove the data folder to start afresh."
        ) from None
    if who.get("email") != credentials.email:
        raise UserError(f"{paths.secrets_file}: the API token belongs to another user")


def stop(*, var_dir: Path | None = None, timeout: float = 15.0) -> bool:
    """Stop the server of this ``var/`` folder; True when a process was stopped."""
    paths = LabelStudioPaths.resolve(var_dir)
    if not paths.home.exists():
        return False
    with file_lock(paths.lock_file):
        state = _read_state(paths)
        pid = state.pid if state is not None else _read_pid(paths)
        data_dir = state.data_dir if state is not None else paths.data_dir
        stopped = False
        if pid is not None and _process(pid, data_dir) is not None:
            _terminate(pid, timeout)
            stopped = True
        _clear_state(paths)
    return stopped


def _read_pid(paths: LabelStudioPaths) -> int | None:
    try:
        return int(paths.pid_file.read_text(encoding="utf-8").strip())
    except (OSError, ValueError):
        return None


def client(server: LabelStudioServer | None = None, *, var_dir: Path | None = None) -> LabelStudio:
    """An SDK client for the running server (``base_url`` always explicit)."""
    from label_studio_sdk import LabelStudio

    server = server or status(var_dir=var_dir)
    if server is None:
        raise UserError(
            "Label Studio is not running: start it with `regionlab labeling server start`."
        )
    return LabelStudio(base_url=server.url, api_key=server.token.get_secret_value())
