"""Adding annotators to a server whose sign-up is by invitation only.

Each account made here must be able to log in through Label Studio's own login form: the
API's ``POST /api/users`` makes accounts that cannot (1.23.2 ignores the password).
"""

from __future__ import annotations

import http.cookiejar
import re
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from labeling import server as ls
from labeling import users
from regionlab.errors import UserError

pytestmark = pytest.mark.slow


def _login(url: str, email: str, password: str) -> str:
    """The path Label Studio sends the browser to after the login form."""
    jar = http.cookiejar.CookieJar()
    browser = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    browser.open(f"{url}/user/login/", timeout=10).read()
    csrf = next(c.value for c in jar if c.name == "csrftoken")
    form = {"email": email, "password": password, "csrfmiddlewaretoken": csrf}
    request = urllib.request.Request(
        f"{url}/user/login/",
        data=urllib.parse.urlencode(form).encode(),
        headers={"Referer": f"{url}/"},
    )
    with browser.open(request, timeout=10) as response:
        return urllib.parse.urlparse(response.url).path


def _sign_up_status(link: str, email: str) -> int:
    jar = http.cookiejar.CookieJar()
    browser = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    browser.open(link, timeout=10).read()
    csrf = next(c.value for c in jar if c.name == "csrftoken")
    form = {"email": email, "password": "Annot-2024-pass!", "csrfmiddlewaretoken": csrf}
    request = urllib.request.Request(
        link, data=urllib.parse.urlencode(form).encode(), headers={"Referer": link}
    )
    try:
        with browser.open(request, timeout=30) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


def test_an_added_annotator_logs_in_with_the_first_password(
    ls_server: ls.LabelStudioServer,
) -> None:
    user, password = users.add_user("Ane.Holm@rsyd.dk", running=ls_server)
    assert user.email == "ane.holm@rsyd.dk" and user.annotator == "ane.holm"
    assert user.id in {u.id for u in users.list_users(ls_server)}
    assert _login(ls_server.url, user.email, password.get_secret_value()) != "/user/login/"
    assert _login(ls_server.url, user.email, "not-the-password") == "/user/login/"
    assert "**" in repr(password)  # SecretStr: never in a repr or a log line


def test_an_address_that_would_merge_two_annotators_is_refused(
    ls_server: ls.LabelStudioServer,
) -> None:
    users.add_user("per.dahl@rsyd.dk", running=ls_server)
    with pytest.raises(UserError, match="already has an account"):
        users.add_user("PER.DAHL@rsyd.dk", running=ls_server)
    with pytest.raises(UserError, match="part before @"):
        users.add_user("per.dahl@ouh.dk", running=ls_server)
    with pytest.raises(UserError, match="not an e-mail"):
        users.add_user("per dahl", running=ls_server)


def test_the_invite_link_signs_up_and_a_reset_link_replaces_it(
    ls_server: ls.LabelStudioServer,
) -> None:
    old = users.invite_link(running=ls_server)
    assert old.startswith(f"{ls_server.url}/user/signup/") and "token=" in old
    assert users.invite_link(running=ls_server) == old
    new = users.invite_link(reset=True, running=ls_server)
    assert new != old
    assert _sign_up_status(old, "old.link@rsyd.dk") == 403
    assert _sign_up_status(new, "new.link@rsyd.dk") in (200, 302)
    emails = {u.email for u in users.list_users(ls_server)}
    assert "new.link@rsyd.dk" in emails and "old.link@rsyd.dk" not in emails


def test_cli_users_add_list_invite(
    ls_server: ls.LabelStudioServer, ls_var: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from cli.labeling_cmd import app

    monkeypatch.setenv("REGIONLAB_VAR", str(ls_var))
    runner = CliRunner()
    added = runner.invoke(app, ["users", "add", "mie.krog@rsyd.dk"])
    assert added.exit_code == 0, added.output
    password = re.search(r"first password: (\S+)", added.output)
    assert password and _login(ls_server.url, "mie.krog@rsyd.dk", password.group(1)) != (
        "/user/login/"
    )
    listed = runner.invoke(app, ["users", "list"])
    assert listed.exit_code == 0 and "mie.krog@rsyd.dk" in listed.output
    assert password.group(1) not in listed.output
    invited = runner.invoke(app, ["users", "invite"])
    assert invited.exit_code == 0
    assert re.search(r"/user/signup/\?token=\S+", invited.output)
