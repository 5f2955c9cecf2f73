"""The pseudonymisation key: where it comes from and what identifies it.

The person key of every product is HMAC-SHA256(key, CPR), so whoever holds the
key can re-identify people: it lives outside the repository and is never
printed. Products record the *key id* instead — a one-way fingerprint that
tells which products were keyed alike (and so can be joined) without
revealing anything about the key.

Where the key is looked up, first match wins:

1. ``REGIONLAB_KEY_FILE`` — path to a key file. A file wins over
   ``REGIONLAB_KEY`` because files are the safer way to hand over secrets
   (environment values leak into child processes and crash dumps); set only
   one of them to avoid surprises — ``regionlab keys show`` says which was used.
2. ``REGIONLAB_KEY`` — the key itself, hex or plain text.
3. ``<secrets_dir>/pseudonym.key`` — the demo key written by
   ``regionlab keys init``, used only if it exists.

A key file or value holds hex (as written by ``init_key``) or, failing that,
any text whose UTF-8 bytes are the key; at least 16 bytes are required.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from regionlab.errors import UserError
from regionlab.settings import get_settings

KEY_FILE_ENV = "REGIONLAB_KEY_FILE"
KEY_ENV = "REGIONLAB_KEY"
DEFAULT_KEY_NAME = "pseudonym.key"
MIN_KEY_BYTES = 16
NEW_KEY_BYTES = 32

_KEY_ID_PREFIX = b"regionlab/key-id/v1\x00"
_DERIVE_PREFIX = b"regionlab/derive/v1\x00"

NO_KEY_MESSAGE = (
    "no pseudonymisation key: run `regionlab keys init` or set REGIONLAB_KEY_FILE "
    "(or REGIONLAB_KEY)"
)


@dataclass(frozen=True)
class PseudonymKey:
    """A secret key plus the fingerprint that may be shown and stored.

    ``secret`` is left out of repr and str so a logged key shows only its id;
    ``source`` says where the key came from (a path, an environment variable
    or a derivation) and is for humans only, so it does not affect equality.
    """

    secret: bytes = field(repr=False)
    source: str = field(default="(in memory)", compare=False)
    key_id: str = field(init=False)

    def __post_init__(self) -> None:
        if len(self.secret) < MIN_KEY_BYTES:
            raise ValueError(f"pseudonymisation key shorter than {MIN_KEY_BYTES} bytes")
        object.__setattr__(self, "key_id", key_id_of(self.secret))

    def __str__(self) -> str:
        return f"PseudonymKey(key_id={self.key_id})"


def key_id_of(secret: bytes) -> str:
    """First 16 hex characters of SHA-256 over a domain-separated prefix and the key.

    The prefix keeps the id from ever equalling some other hash of the key
    (for instance a pseudonym computed with it).
    """
    return hashlib.sha256(_KEY_ID_PREFIX + secret).hexdigest()[:16]


def default_key_path() -> Path:
    """Where ``regionlab keys init`` writes the demo key."""
    return get_settings().secrets_dir / DEFAULT_KEY_NAME


def decode_key_text(text: str) -> bytes:
    """Key bytes from file/env text: hex if it is hex, else the UTF-8 bytes."""
    stripped = text.strip()
    if len(stripped) % 2 == 0:
        try:
            return bytes.fromhex(stripped)
        except ValueError:
            pass
    return stripped.encode("utf-8")


_FILE_FIX = "write a new random key with `regionlab keys init --force` (or `--path <file>`)"
_ENV_FIX = f"set {KEY_ENV} to a longer value, or unset it and use a key file"


def _key_from_text(text: str, source: str, fix: str) -> PseudonymKey:
    secret = decode_key_text(text)
    if not secret:
        raise UserError(f"the pseudonymisation key from {source} is empty: {fix}")
    if len(secret) < MIN_KEY_BYTES:
        raise UserError(
            f"the pseudonymisation key from {source} is too short (need at least "
            f"{MIN_KEY_BYTES} bytes, e.g. {2 * MIN_KEY_BYTES} hex characters): {fix}"
        )
    return PseudonymKey(secret=secret, source=source)


def _read_key_file(path: Path, source: str) -> PseudonymKey:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UserError(
            f"pseudonymisation key file {path} ({source}) does not exist: "
            "fix the path or run `regionlab keys init --path <file>`"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(
            f"cannot read pseudonymisation key file {path}: {type(exc).__name__}; "
            "check the file's permissions and that it holds hex text"
        ) from None
    return _key_from_text(text, f"file {path}", _FILE_FIX)


def load_key() -> PseudonymKey:
    """The configured pseudonymisation key (see the module docstring for the order)."""
    key_file = os.environ.get(KEY_FILE_ENV, "").strip()
    if key_file:
        return _read_key_file(Path(key_file).expanduser(), KEY_FILE_ENV)
    if KEY_ENV in os.environ:
        return _key_from_text(os.environ[KEY_ENV], f"environment variable {KEY_ENV}", _ENV_FIX)
    path = default_key_path()
    if path.is_file():
        return _read_key_file(path, "default location")
    raise UserError(NO_KEY_MESSAGE)


def init_key(path: Path | None = None, force: bool = False) -> PseudonymKey:
    """Write a new random key (32 bytes, hex) with mode 0600 and return it.

    The folder is created with mode 0700. An existing key is never replaced
    silently: products keyed with it could no longer be joined with new ones.
    """
    target = Path(path) if path is not None else default_key_path()
    if target.exists() and not force:
        raise UserError(
            f"a pseudonymisation key already exists at {target}; products keyed with it "
            "could not be joined with new ones. Use --force to replace it anyway"
        )
    if not target.parent.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        os.chmod(target.parent, 0o700)
    secret = secrets.token_bytes(NEW_KEY_BYTES)
    # Write to a fresh 0600 file first so the key is never readable by others,
    # then move it into place atomically.
    tmp = target.with_name(target.name + ".tmp")
    if tmp.exists():
        tmp.unlink()
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(secret.hex() + "\n")
    os.chmod(tmp, 0o600)
    os.replace(tmp, target)
    return PseudonymKey(secret=secret, source=f"file {target}")


def derive_key(key: PseudonymKey, purpose: str) -> PseudonymKey:
    """A key for one purpose (e.g. a research project), derived from the main key.

    HMAC-SHA256(main key, prefix || purpose): the same person gets unrelated
    pseudonyms in different projects, and a project key reveals neither the
    main key nor another project's key.
    """
    if not purpose or not purpose.strip():
        raise ValueError("derive_key needs a non-empty purpose")
    secret = hmac.new(key.secret, _DERIVE_PREFIX + purpose.encode("utf-8"), "sha256").digest()
    return PseudonymKey(secret=secret, source=f"derived from key {key.key_id} for {purpose!r}")
