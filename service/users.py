"""User administration of the built-in issuer, audited.

Issuing, replacing and revoking a token changes who can ask what, so each is an
audit event (``user.add``, ``user.replace``, ``user.revoke``) with the user
name and role — never the token. Run on the service's host by its
administrator (the OS account that owns ``var/service``); that account is the
event's ``user``, as ``os:<login>``.
"""

from __future__ import annotations

import getpass

from regionlab.research.audit_store import open_store
from service.app import token_store
from service.roles import Role


def _admin() -> str:
    return f"os:{getpass.getuser()}"


def add_user(name: str, role: Role, *, replace: bool = False) -> str:
    """Issue a token (shown once by the caller, stored hashed) and audit it."""
    token = token_store().issue(name, role, replace=replace)
    open_store().record_event(
        user=_admin(),
        action="user.replace" if replace else "user.add",
        subject=name,
        details={"role": role.value},
    )
    return token


def revoke_user(name: str) -> None:
    """Revoke a user's token now, and audit it."""
    token_store().revoke(name)
    open_store().record_event(user=_admin(), action="user.revoke", subject=name, details={})


__all__ = ["add_user", "revoke_user"]
