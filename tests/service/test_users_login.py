"""``regionlab users add|list|revoke`` (the built-in issuer) and ``regionlab login``."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli import _register, app
from regionlab.errors import UserError
from regionlab.research.audit_store import open_store
from regionlab.research.client import ServiceClient, load_token, token_path

_register()


def _token_from(output: str) -> str:
    return next(line.strip() for line in output.splitlines() if line.strip().startswith("rl_"))


def test_users_add_shows_a_token_once_list_and_revoke(var_dir: Path) -> None:
    runner = CliRunner()
    added = runner.invoke(app, ["users", "add", "anna", "--role", "researcher"])
    assert added.exit_code == 0, added.output
    token = _token_from(added.output)
    stored = (var_dir / "service" / "identities.sqlite").read_bytes()
    assert token.encode() not in stored
    again = runner.invoke(app, ["users", "add", "anna", "--role", "researcher"])
    assert isinstance(again.exception, UserError) and "--replace" in str(again.exception)
    replaced = runner.invoke(app, ["users", "add", "anna", "--role", "steward", "--replace"])
    assert _token_from(replaced.output) != token
    bad = runner.invoke(app, ["users", "add", "bo", "--role", "root"])
    assert isinstance(bad.exception, UserError) and "researcher" in str(bad.exception)
    events = [(e.action, e.subject, e.data["details"]) for e in open_store().entries()]
    assert events == [
        ("user.add", "anna", {"role": "researcher"}),
        ("user.replace", "anna", {"role": "steward"}),
    ]
    assert all(e.user.startswith("os:") for e in open_store().entries())
    listed = runner.invoke(app, ["users", "list"])
    assert "anna" in listed.output and "steward" in listed.output and "active" in listed.output
    assert runner.invoke(app, ["users", "revoke", "anna"]).exit_code == 0
    assert "revoked" in runner.invoke(app, ["users", "list"]).output
    assert open_store().entries()[-1].action == "user.revoke"
    assert token not in str([e.data for e in open_store().entries()])
    again = runner.invoke(app, ["users", "revoke", "anna"])
    assert isinstance(again.exception, UserError)


@pytest.mark.slow
def test_login_checks_the_token_and_stores_it_privately(
    var_dir: Path, tmp_path: Path, live: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("REGIONLAB_SERVICE_URL", live)
    monkeypatch.delenv("REGIONLAB_TOKEN", raising=False)
    runner = CliRunner()
    with pytest.raises(UserError, match="regionlab login"):
        load_token()
    token = _token_from(runner.invoke(app, ["users", "add", "anna", "--role", "researcher"]).output)
    wrong = runner.invoke(app, ["login"], input="rl_not-a-token\n")
    assert isinstance(wrong.exception, UserError) and "did not accept" in str(wrong.exception)
    assert not token_path().exists()
    done = runner.invoke(app, ["login"], input=token + "\n")
    assert done.exit_code == 0, done.output
    assert "logged in as anna (researcher)" in " ".join(done.output.split())
    path = tmp_path / "config" / "regionlab" / "token"
    assert token_path() == path and path.read_text().strip() == token
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    assert oct(path.parent.stat().st_mode & 0o777) == "0o700"
    assert ServiceClient().whoami()["name"] == "anna"  # the client finds the stored token
    runner.invoke(app, ["users", "revoke", "anna"])
    with pytest.raises(UserError, match="did not accept your token"):
        ServiceClient().whoami()
