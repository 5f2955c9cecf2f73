"""The audit store's two keys: the MAC key of the chain and the checkpoint signing key.

Both live in ``var/secrets`` (0600, folder 0700), are created on first use and
are read only by the access service. The MAC key is its own random key, not
derived from the pseudonymisation key: the audit trail must stay verifiable
when the pseudonymisation key is rotated (a rotation must not re-key years of
audit entries), and a leaked audit key must reveal nothing about pseudonyms.

Checkpoints are signed with Ed25519 so that anyone holding only the public key
(written beside the checkpoints, and printed by ``regionlab audit checkpoint``)
can check them; :func:`signing_key` is the private half, :func:`public_key_hex`
the half that may be published.
"""

from __future__ import annotations

import hashlib
import os
import secrets
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from regionlab.errors import UserError

KEY_BYTES = 32


def create_secret(path: Path) -> None:
    """Write 32 random bytes (hex) to ``path`` 0600, unless another process just did."""
    if not path.parent.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        os.chmod(path.parent, 0o700)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(secrets.token_bytes(KEY_BYTES).hex() + "\n")
        handle.flush()
        os.fsync(handle.fileno())
    try:
        os.link(tmp, path)  # atomic and never replaces: the first writer wins
    except FileExistsError:
        pass
    finally:
        tmp.unlink()


def read_secret(path: Path, *, create: bool = True) -> bytes:
    """The key in ``path``; created on first use when ``create`` is true."""
    if not path.is_file():
        if not create:
            raise UserError(
                f"the audit key {path} does not exist; the audit store cannot be verified "
                "without the key that chained it — restore it from the service's backup"
            )
        create_secret(path)
    try:
        secret = bytes.fromhex(path.read_text(encoding="utf-8").strip())
    except (OSError, ValueError):
        raise UserError(
            f"cannot read the audit key {path}: check its permissions (the service's user, "
            "0600) and that it holds hex text"
        ) from None
    if len(secret) < KEY_BYTES:
        raise UserError(f"the audit key {path} is shorter than {KEY_BYTES} bytes; restore it")
    return secret


def key_id(secret: bytes) -> str:
    """A fingerprint of a key that may be shown and stored (never the key)."""
    return hashlib.sha256(b"regionlab/audit-key-id/v1\x00" + secret).hexdigest()[:16]


def signing_key(path: Path, *, create: bool = True) -> Ed25519PrivateKey:
    return Ed25519PrivateKey.from_private_bytes(read_secret(path, create=create)[:KEY_BYTES])


def public_key_hex(key: Ed25519PrivateKey | Ed25519PublicKey) -> str:
    public = key.public_key() if isinstance(key, Ed25519PrivateKey) else key
    return public.public_bytes(Encoding.Raw, PublicFormat.Raw).hex()


__all__ = ["create_secret", "key_id", "public_key_hex", "read_secret", "signing_key"]
