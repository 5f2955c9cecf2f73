"""Annotator accounts on the project's Label Studio server.

Sign-up without an invite link is off (``labeling.server``), so a labelling team gets its
annotators in one of two ways, both through Label Studio's own API:

- :func:`add_user` creates the account with a random first password, shown once to whoever
  runs it (the annotator changes it under *Account & Settings*), by signing up through the
  invite link on the annotator's behalf.
- :func:`invite_link` is the organisation's invite link: whoever opens it signs up with a
  password of their own. ``reset=True`` makes a new link, so the old one stops working once
  the team is on board.

Annotators are recorded in labelled products by the local part of their e-mail
(:mod:`labeling.pull`), so two accounts whose e-mails share a local part would be counted as
one annotator in the agreement: :func:`add_user` refuses the second.
"""

from __future__ import annotations

import html
import http.cookiejar
import re
import secrets
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import Any

from pydantic import EmailStr, SecretStr, TypeAdapter, ValidationError

from labeling import server
from labeling.server import LabelStudioServer
from regionlab.errors import UserError

_EMAIL: TypeAdapter[str] = TypeAdapter(EmailStr)


@dataclass(frozen=True)
class Annotator:
    """One Label Studio account, as the labelling team sees it."""

    id: int
    email: str
    name: str

    @property
    def annotator(self) -> str:
        """The name labelled products and agreement use: the e-mail's local part."""
        return self.email.split("@", 1)[0].lower()


def _running(running: LabelStudioServer | None) -> LabelStudioServer:
    running = running or server.status()
    if running is None:
        raise UserError(
            "Label Studio is not running; start it with `regionlab labeling server start`"
        )
    return running


def _annotator(user: Any) -> Annotator:
    name = " ".join(p for p in (user.first_name or "", user.last_name or "") if p)
    return Annotator(id=int(user.id), email=user.email or "", name=name)


def list_users(running: LabelStudioServer | None = None) -> list[Annotator]:
    """Every account of the organisation, by id."""
    sdk = server.client(_running(running))
    return sorted((_annotator(u) for u in sdk.users.list()), key=lambda a: a.id)


def add_user(
    email: str, *, running: LabelStudioServer | None = None
) -> tuple[Annotator, SecretStr]:
    """Create an annotator account; return it with its first password (shown once).

    The account is made through the organisation's invite link, as an annotator signing up
    would make it: Label Studio's API creates users without a usable password (1.23.2 ignores
    ``password`` on ``POST /api/users``), and its sign-up sets the password, the membership
    and the active organisation together.
    """
    try:
        email = _EMAIL.validate_python(email.strip()).lower()
    except ValidationError:
        raise UserError(
            f"{email!r} is not an e-mail address; give the annotator's work e-mail"
        ) from None
    running = _running(running)
    local = email.split("@", 1)[0]
    for user in list_users(running):
        if user.email.lower() == email:
            raise UserError(f"{email} already has an account (id {user.id})")
        if user.annotator == local:
            raise UserError(
                f"{user.email} (id {user.id}) already records annotations as '{local}'; "
                f"annotators are told apart by the part before @, so use another address"
            )
    password = SecretStr(secrets.token_urlsafe(15))
    _sign_up(invite_link(running=running), email, password)
    made = [u for u in list_users(running) if u.email.lower() == email]
    if not made:
        raise RuntimeError(f"Label Studio accepted the sign-up of {email} but lists no such user")
    return made[0], password


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def _sign_up(link: str, email: str, password: SecretStr) -> None:
    """Fill in Label Studio's sign-up form behind ``link`` (CSRF cookie, then the form)."""
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar), _NoRedirect())
    with opener.open(link, timeout=30) as page:
        action = re.search(r'<form[^>]*action="([^"]+)"', page.read().decode("utf-8", "replace"))
    csrf = next((c.value for c in jar if c.name == "csrftoken"), None)
    if action is None or csrf is None:
        raise RuntimeError(f"no sign-up form at {link.split('?', 1)[0]}")
    target = urllib.parse.urljoin(link, html.unescape(action.group(1)))
    form = urllib.parse.urlencode(
        {
            "csrfmiddlewaretoken": csrf,
            "email": email,
            "password": password.get_secret_value(),
            "allow_newsletters": "false",
        }
    ).encode()
    request = urllib.request.Request(target, data=form, headers={"Referer": link})
    try:
        with opener.open(request, timeout=60) as response:
            body = response.read().decode("utf-8", "replace")
            status = response.status
    except urllib.error.HTTPError as exc:
        if exc.code == 302:  # signed up and sent on to the app
            return
        raise UserError(
            f"Label Studio refused the sign-up of {email} (HTTP {exc.code}); "
            "check the server log (`regionlab labeling server status`)"
        ) from None
    if status != 302:
        found = re.findall(r'class="[^"]*error[^"]*"[^>]*>\s*([^<]{1,200})', body)
        reason = "; ".join(f.strip() for f in found if f.strip()) or f"HTTP {status}"
        raise UserError(f"Label Studio did not create {email}: {reason}")


def invite_link(*, reset: bool = False, running: LabelStudioServer | None = None) -> str:
    """The organisation's sign-up link (a new one with ``reset``), as an absolute URL."""
    running = _running(running)
    sdk = server.client(running)
    if reset:
        sdk.organizations.reset_token()
    url = sdk.organizations.invites.get_invite_link().invite_url or ""
    if not url.startswith("http"):
        url = f"{running.url.rstrip('/')}/{url.lstrip('/')}"
    return url
