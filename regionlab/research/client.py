"""The researcher's side of the access service: find it, authenticate, ask.

The CLI, the notebooks and scripts call :func:`feasibility` here; it sends the
cohort definition to ``POST /feasibility`` and gets back displayed values only
(:class:`~regionlab.research.answer.FeasibilityAnswer`). Nothing in this module
reads the lake, the key or the audit store, and nothing here can change the
rules the service answers by.

Where the service is: ``REGIONLAB_SERVICE_URL``; otherwise, in the embedded
profile, the client starts one itself (``python -m uvicorn
service.app:embedded_app --factory`` on 127.0.0.1 and a free port) and records
it in ``<var>/service/runtime.json`` (pid, port) so later commands reuse it; a
record whose process is gone or does not answer is replaced. The started
service stops after its idle time, or with ``regionlab serve --stop``.

The token: ``REGIONLAB_TOKEN``, else the file ``regionlab login`` wrote
(``$XDG_CONFIG_HOME/regionlab/token``, default ``~/.config``, mode 0600).
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import json
import os
import signal
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import httpx

from regionlab.config import current
from regionlab.errors import UserError
from regionlab.research.answer import FeasibilityAnswer

URL_ENV = "REGIONLAB_SERVICE_URL"
TOKEN_ENV = "REGIONLAB_TOKEN"
RUNTIME_FILE = "runtime.json"
LOG_FILE = "service.log"
EMBEDDED_FACTORY = "service.app:embedded_app"
START_TIMEOUT = 90.0
REQUEST_TIMEOUT = 300.0


# ------------------------------------------------------------------ HTTP

_clients: dict[bool, httpx.Client] = {}


def _http(url: str) -> httpx.Client:
    """One HTTP client per process (kept-alive connections), per kind of address.

    For ``https`` it verifies the server with httpx's default CA bundle. For plain
    ``http`` (the embedded service on 127.0.0.1) no TLS is spoken, and loading the CA
    bundle would be most of a researcher's wait for a count (≈0.15 s per client,
    issue 23): that client gets a TLS context without any CA, which refuses every
    certificate — should an ``http`` address ever redirect to ``https``, it fails closed.
    """
    secure = not url.startswith("http://")
    client = _clients.get(secure)
    if client is None:
        verify: bool | ssl.SSLContext = True if secure else ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        client = _clients[secure] = httpx.Client(verify=verify)
    return client


# ------------------------------------------------------------------ the token


def token_path(env: Mapping[str, str] | None = None) -> Path:
    """``$XDG_CONFIG_HOME/regionlab/token`` (``~/.config`` when unset)."""
    env = os.environ if env is None else env
    base = env.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "regionlab" / "token"


def store_token(token: str, path: Path | None = None) -> Path:
    """Write the token readable by its owner only (the folder 0700, the file 0600)."""
    path = path or token_path()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(token.strip() + "\n")
    path.chmod(0o600)
    return path


def load_token() -> str:
    """``REGIONLAB_TOKEN`` or the stored token; a clear error when there is none."""
    token = os.environ.get(TOKEN_ENV, "").strip()
    if token:
        return token
    path = token_path()
    if path.is_file():
        token = path.read_text(encoding="utf-8").strip()
        if token:
            return token
    raise UserError(
        f"no token: run `regionlab login` with the token your access officer issued "
        f"(regionlab users add NAME --role researcher), or set {TOKEN_ENV}"
    )


# ------------------------------------------------------------------ the embedded service


def runtime_path() -> Path:
    return current().settings.service_dir / RUNTIME_FILE


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _healthy(url: str, timeout: float = 2.0) -> bool:
    try:
        return _http(url).get(f"{url}/health", timeout=timeout).status_code == 200
    except httpx.HTTPError:
        return False


def _read_runtime(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (FileNotFoundError, json.JSONDecodeError):
        return None
    if not isinstance(data, dict) or not {"pid", "port", "url"} <= set(data):
        return None
    return data


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def _start_lock(folder: Path) -> Iterator[None]:
    """One starter at a time per ``var/``: two commands at once share one service."""
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(folder / "runtime.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def running_embedded() -> dict[str, Any] | None:
    """The recorded embedded service if its process lives and it answers, else ``None``."""
    info = _read_runtime(runtime_path())
    if info and _alive(int(info["pid"])) and _healthy(str(info["url"])):
        return info
    return None


def _spawn(port: int, log_path: Path) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if k not in (URL_ENV, TOKEN_ENV)}
    env["REGIONLAB_VAR"] = str(current().settings.var_dir)
    argv = [sys.executable, "-m", "uvicorn", EMBEDDED_FACTORY, "--factory"]
    argv += ["--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"]
    with open(log_path, "ab") as log:
        return subprocess.Popen(
            argv,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            start_new_session=True,  # outlives the command that started it
        )


def _started(proc: subprocess.Popen[bytes], url: str, log_path: Path) -> bool:
    """Wait until ``proc`` answers on ``url``; ``False`` when it exited (e.g. the port was
    taken in the meantime), an error when it neither answers nor exits in time."""
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        if _healthy(url, timeout=1.0):
            return proc.poll() is None  # and not some other process on that port
        time.sleep(0.2)
    proc.terminate()
    raise UserError(
        f"the access service did not answer within {START_TIMEOUT:.0f} s; see {log_path}"
    )


def ensure_embedded() -> str:
    """The URL of this ``var/``'s embedded service, started now if none answers."""
    path = runtime_path()
    log_path = path.parent / LOG_FILE
    with _start_lock(path.parent):
        info = running_embedded()
        if info:
            return str(info["url"])
        path.unlink(missing_ok=True)  # stale: the process is gone or does not answer
        for _attempt in range(3):
            port = _free_port()
            url = f"http://127.0.0.1:{port}"
            proc = _spawn(port, log_path)
            if _started(proc, url, log_path):
                break
        else:
            raise UserError(
                f"the access service did not start (exit status {proc.returncode}); see {log_path}"
            )
        record = {"pid": proc.pid, "port": port, "url": url, "started": time.time()}
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(record), encoding="utf-8")
        tmp.chmod(0o600)
        tmp.replace(path)
        return url


def stop_embedded(timeout: float = 15.0) -> int | None:
    """Stop the recorded embedded service; its pid, or ``None`` when none was running."""
    path = runtime_path()
    with _start_lock(path.parent):
        info = _read_runtime(path)
        path.unlink(missing_ok=True)
        if not info or not _alive(int(info["pid"])):
            return None
        pid = int(info["pid"])
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and _alive(pid):
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, os.WNOHANG)
            time.sleep(0.1)
        if _alive(pid):
            os.kill(pid, signal.SIGKILL)
        return pid


def service_url() -> str:
    """``REGIONLAB_SERVICE_URL``, else the embedded service (started on demand)."""
    url = os.environ.get(URL_ENV, "").strip()
    if url:
        return url.rstrip("/")
    if current().profile.name != "embedded":
        raise UserError(
            f"set {URL_ENV} to the access service's address (e.g. https://regionlab.example/api); "
            "only the embedded profile starts a service on demand"
        )
    return ensure_embedded()


# ------------------------------------------------------------------ requests


def _detail(response: httpx.Response) -> str:
    try:
        detail = response.json().get("detail")
    except (ValueError, AttributeError):
        detail = None
    if isinstance(detail, list):  # FastAPI's request validation: field and message only
        return "; ".join(
            f"{'.'.join(str(p) for p in d.get('loc', [])[1:])}: {d.get('msg')}" for d in detail
        )
    return str(detail or response.reason_phrase)


class ServiceClient:
    """A connection to the access service with one token."""

    def __init__(self, url: str | None = None, token: str | None = None) -> None:
        self.url = (url or service_url()).rstrip("/")
        self.token = token or load_token()

    def _call(
        self, method: str, path: str, *, forbidden_hint: str | None = None, **kwargs: Any
    ) -> Any:
        try:
            response = _http(self.url).request(
                method,
                f"{self.url}{path}",
                headers={"Authorization": f"Bearer {self.token}"},
                timeout=REQUEST_TIMEOUT,
                **kwargs,
            )
        except httpx.HTTPError as exc:
            raise UserError(
                f"cannot reach the access service at {self.url} ({type(exc).__name__}); "
                f"check {URL_ENV} or start it with `regionlab serve`"
            ) from None
        if response.status_code == 401:
            raise UserError(
                f"the access service did not accept your token ({_detail(response)}); "
                "ask your access officer for a new one and run `regionlab login`"
            )
        if response.status_code == 403:
            hint = forbidden_hint or "ask your access officer for a token with the role this needs"
            raise UserError(f"not allowed: {_detail(response)}; {hint}")
        if response.status_code >= 400:
            raise UserError(_detail(response))
        return response.json()

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        """Any endpoint: the JSON answer, or one :class:`UserError` with the service's reason."""
        return self._call(method, path, **kwargs)

    # ---------------------------------------------------------------- permits

    def apply(self, permit: Mapping[str, Any]) -> dict[str, Any]:
        """Apply for a permit (researcher); the cohort travels inline."""
        return dict(self._call("POST", "/permits/applications", json=dict(permit)))

    def applications(self) -> list[dict[str, Any]]:
        """Your applications, or every one for an access officer."""
        return list(self._call("GET", "/permits/applications"))

    def decide(
        self, project: str, decision: str, *, reason: str | None = None, replace: bool = False
    ) -> dict[str, Any]:
        """``approve`` (optionally ``replace``), ``refuse`` or ``incomplete`` (access officer)."""
        path = f"/permits/applications/{project}/{decision}"
        if decision == "approve":
            return dict(self._call("POST", path, params={"replace": replace}))
        return dict(self._call("POST", path, json={"reason": reason}))

    # ---------------------------------------------------------------- workspaces

    def open_workspace(self, project: str) -> dict[str, Any]:
        """Path and key of the project's encrypted workspace (permit holder only; audited).

        Used by :func:`regionlab.research.workspace.open_workspace` when this process
        cannot read the keys itself; the key is kept in memory only.
        """
        return dict(
            self._call(
                "POST",
                f"/workspaces/{project}/open",
                forbidden_hint="only the holder of the project's approved, unexpired permit "
                "opens its workspace",
            )
        )

    # ---------------------------------------------------------------- airlock

    def submit_output(
        self, project: str, path: Path, *, threshold: int | None = None
    ) -> dict[str, Any]:
        """Submit a result file to the airlock (researcher): released or queued."""
        path = Path(path)
        if not path.is_file():
            raise UserError(f"{path}: no such file; give the path of a CSV or Parquet result")
        body = {
            "project_id": project,
            "filename": path.name,
            "content_base64": base64.b64encode(path.read_bytes()).decode("ascii"),
            "threshold": threshold,
        }
        return dict(self._call("POST", "/outputs", json=body))

    def outputs(self, state: str | None = None) -> list[dict[str, Any]]:
        """Your submitted outputs, or every one for an output checker."""
        return list(self._call("GET", "/outputs", params={"state": state} if state else {}))

    def decide_output(self, submission: str, decision: str, *, reason: str) -> dict[str, Any]:
        """``approve`` or ``refuse`` a queued output with a reason (output checker)."""
        return dict(
            self._call("POST", f"/outputs/{submission}/{decision}", json={"reason": reason})
        )

    def fetch_output(self, submission: str, folder: Path) -> Path:
        """Write a released output and its manifest (``<file>.manifest.json``) into ``folder``."""
        data = self._call("GET", f"/outputs/{submission}/released")
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        target = folder / data["submission"]["filename"]
        target.write_bytes(base64.b64decode(data["content_base64"]))
        manifest = folder / f"{target.name}.manifest.json"
        manifest.write_text(json.dumps(data["manifest"], indent=2) + "\n", encoding="utf-8")
        return target

    # ---------------------------------------------------------------- audit

    def audit_verify(self) -> dict[str, Any]:
        return dict(self._call("GET", "/audit/verify"))

    def audit_entries(self, user: str | None = None, since: str | None = None) -> list[Any]:
        params = {k: v for k, v in {"user": user, "since": since}.items() if v}
        return list(self._call("GET", "/audit/entries", params=params))

    def audit_checkpoint(self) -> dict[str, Any]:
        return dict(self._call("POST", "/audit/checkpoint"))

    def whoami(self) -> dict[str, str]:
        return dict(self._call("GET", "/whoami"))

    def lake_tables(self) -> tuple[int, dict[str, int | str]]:
        """The newest lake snapshot and rows per published product (small counts hidden)."""
        data = self._call("GET", "/lake/tables")
        return int(data["snapshot"]), dict(data["tables"])

    def feasibility(
        self,
        cohort: Any,
        by: str | Sequence[str] | None = None,
        *,
        snapshot: int | None = None,
        threshold: int | None = None,
        project: str | None = None,
    ) -> FeasibilityAnswer:
        from regionlab.research.cohort import as_cohort

        definition = as_cohort(cohort).model_dump(mode="json", by_alias=True, exclude_none=True)
        dims = [p.strip() for p in by.split(",")] if isinstance(by, str) else list(by or [])
        body = {
            "cohort": definition,
            "by": [d for d in dims if d],
            "snapshot": snapshot,
            "threshold": threshold,
            "project": project,
        }
        return FeasibilityAnswer.model_validate(self._call("POST", "/feasibility", json=body))

    def attrition(
        self,
        cohort: Any,
        *,
        snapshot: int | None = None,
        threshold: int | None = None,
        project: str | None = None,
    ) -> list[tuple[str, int | str]]:
        """People left after each inclusion rule, as the service shows them (audited)."""
        from regionlab.research.cohort import as_cohort

        definition = as_cohort(cohort).model_dump(mode="json", by_alias=True, exclude_none=True)
        body = {
            "cohort": definition,
            "snapshot": snapshot,
            "threshold": threshold,
            "project": project,
        }
        data = self._call("POST", "/feasibility/attrition", json=body)
        return [(str(s["label"]), s["display"]) for s in data["steps"]]


def feasibility(
    cohort: Any,
    by: str | Sequence[str] | None = None,
    *,
    snapshot: int | None = None,
    threshold: int | None = None,
    project: str | None = None,
) -> FeasibilityAnswer:
    """Count a cohort's unique persons through the access service (suppressed, audited).

    ``cohort`` is a :class:`~regionlab.research.cohort.Cohort`, a builder, a YAML
    file or a mapping; ``by`` is ``"sex,age_band"`` or a list. ``project``
    defaults to ``REGIONLAB_PROJECT``.
    """
    project = project or os.environ.get("REGIONLAB_PROJECT") or None
    return ServiceClient().feasibility(
        cohort, by, snapshot=snapshot, threshold=threshold, project=project
    )


__all__ = [
    "ServiceClient",
    "ensure_embedded",
    "feasibility",
    "load_token",
    "running_embedded",
    "service_url",
    "stop_embedded",
    "store_token",
    "token_path",
]


def magnitude_table(rows: Any, by: Sequence[str], value: str, *, stat: str = "mean") -> Any:
    """A magnitude table (``n``, the sum or mean of ``value`` per group) with its evidence.

    ``rows`` is a polars DataFrame of row-level data in the workspace; the result has
    one row per group with ``n``, ``<stat>_<value>`` and the dominance evidence the
    airlock's n-k and p-ratio rules read: ``sdc_total`` (sum of the contributions),
    ``sdc_top1`` and ``sdc_top2`` (the two largest). The airlock removes the ``sdc_``
    columns before it releases the file.
    """
    import polars as pl

    if stat not in {"mean", "sum"}:
        raise UserError(f"stat must be 'mean' or 'sum', got {stat!r}")
    v = pl.col(value)
    top = v.sort(descending=True)
    aggregate = v.mean() if stat == "mean" else v.sum()
    return (
        rows.group_by(list(by))
        .agg(
            pl.len().alias("n"),
            aggregate.alias(f"{stat}_{value}"),
            v.sum().alias("sdc_total"),
            top.first().alias("sdc_top1"),
            top.get(1, null_on_oob=True).fill_null(0).alias("sdc_top2"),
        )
        .sort(list(by))
    )
