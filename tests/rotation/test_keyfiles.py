"""The key files of a rotation: pending key, backup and swap (modes, order, refusals)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from regionlab.errors import UserError
from regionlab.privacy.keys import init_key, load_key
from regionlab.rotation import keyfiles


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_key_given_as_a_value_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("REGIONLAB_KEY_FILE", raising=False)
    monkeypatch.setenv("REGIONLAB_KEY", "0123456789abcdef0123456789abcdef")
    with pytest.raises(UserError, match="REGIONLAB_KEY_FILE") as refused:
        keyfiles.active_key_file()
    assert "0123456789abcdef" not in str(refused.value)


def test_pending_key_then_swap_keeps_the_old_key_beside_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    key_file = tmp_path / "secrets" / "pseudonym.key"
    old = init_key(key_file)
    monkeypatch.setenv("REGIONLAB_KEY_FILE", str(key_file))
    assert keyfiles.active_key_file() == key_file

    new = keyfiles.write_pending(key_file)
    assert _mode(keyfiles.pending_path(key_file)) == 0o600
    assert keyfiles.read_pending(key_file) == new
    assert load_key() == old  # the key file is untouched until the swap

    backup = keyfiles.swap(key_file, old)
    assert backup == key_file.with_name(f"pseudonym.key.{old.key_id}.bak")
    assert _mode(backup) == 0o600 and _mode(key_file) == 0o600
    assert load_key().key_id == new.key_id
    monkeypatch.setenv("REGIONLAB_KEY_FILE", str(backup))
    assert load_key().key_id == old.key_id
    assert keyfiles.read_pending(key_file) is None


@pytest.mark.skipif(os.geteuid() != 0, reason="changing a file's owner needs root")
def test_swap_as_root_keeps_the_key_files_owner(tmp_path: Path) -> None:
    key_file = tmp_path / "pseudonym.key"
    old = init_key(key_file)
    os.chown(key_file, 4321, 4321)  # as a hardened var/ gives it to the service account
    keyfiles.write_pending(key_file)
    backup = keyfiles.swap(key_file, old)
    for path in (key_file, backup):
        assert (path.stat().st_uid, path.stat().st_gid) == (4321, 4321)
        assert _mode(path) == 0o600
