"""The Label Studio admin account: generated once, kept in a 0600 secrets file.

The password and API token are random and never appear on a command line (other
users could read them from the process list) or in a log; they reach Label
Studio through the environment of the one-off ``label-studio init`` and are read
back from ``var/secrets/labelstudio.json`` by whoever needs them.
"""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path

from pydantic import BaseModel, SecretStr, ValidationError

from regionlab.errors import UserError

ADMIN_EMAIL = "admin@regionlab.local"


class AdminCredentials(BaseModel):
    """Login and API token of the Label Studio admin.

    ``SecretStr`` keeps the secrets out of reprs, so printing or logging the
    object by mistake shows ``**********``.
    """

    email: str
    password: SecretStr
    token: SecretStr

    @classmethod
    def generate(cls, email: str = ADMIN_EMAIL) -> AdminCredentials:
        # 40 hex characters: the length of Django REST framework's token column.
        return cls(
            email=email,
            password=SecretStr(secrets.token_urlsafe(24)),
            token=SecretStr(secrets.token_hex(20)),
        )


def write_credentials(path: Path, credentials: AdminCredentials) -> Path:
    """Write the credentials readable by the owner only (file 0600, folder 0700)."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    payload = {
        "email": credentials.email,
        "password": credentials.password.get_secret_value(),
        "token": credentials.token.get_secret_value(),
    }
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        os.fchmod(handle.fileno(), 0o600)
        json.dump(payload, handle, indent=2)
        handle.write("\n")
    os.replace(tmp, path)
    return path


def read_credentials(path: Path) -> AdminCredentials:
    """Read the credentials, with a message that says how to recover if they are gone."""
    if not path.exists():
        raise UserError(
            f"{path}: Label Studio admin credentials are missing. Restore the file, or remove "
            "the Label Studio data folder (var/labelstudio/data) so the next start creates a "
            "new admin."
        )
    try:
        return AdminCredentials.model_validate(json.loads(path.read_text(encoding="utf-8")))
    except (json.JSONDecodeError, ValidationError) as exc:
        # Say which fields are wrong, never their values.
        raise UserError(
            f"{path}: not a valid Label Studio credentials file (needs email, password, token): "
            f"{type(exc).__name__}"
        ) from None
