"""The pseudonymisation key: lookup order, file safety, key id, derivation, CLI."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from regionlab.errors import UserError
from regionlab.privacy.keys import (
    NO_KEY_MESSAGE,
    PseudonymKey,
    derive_key,
    init_key,
    key_id_of,
    load_key,
)

SECRET_HEX = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"


def test_key_id_is_stable_and_distinguishes_keys() -> None:
    a1 = PseudonymKey(secret=bytes.fromhex(SECRET_HEX))
    a2 = PseudonymKey(secret=bytes.fromhex(SECRET_HEX), source="elsewhere")
    b = PseudonymKey(secret=bytes.fromhex(SECRET_HEX[:-2] + "00"))
    assert a1.key_id == a2.key_id == key_id_of(bytes.fromhex(SECRET_HEX))
    assert a1 == a2  # the source is for humans, not identity
    assert a1.key_id != b.key_id
    assert len(a1.key_id) == 16 and all(c in "0123456789abcdef" for c in a1.key_id)
    # the id is not a prefix of the key or of its plain hash
    import hashlib

    assert a1.key_id not in SECRET_HEX
    assert a1.key_id != hashlib.sha256(bytes.fromhex(SECRET_HEX)).hexdigest()[:16]


def test_repr_and_str_never_show_the_secret() -> None:
    key = PseudonymKey(secret=bytes.fromhex(SECRET_HEX))
    for text in (repr(key), str(key), f"{key}", f"{key!r}"):
        assert SECRET_HEX not in text
        assert SECRET_HEX[:16] not in text
        assert "\\x00\\x11" not in text
        assert key.key_id in text


def test_short_key_objects_are_refused() -> None:
    with pytest.raises(ValueError, match="shorter than 16 bytes"):
        PseudonymKey(secret=b"short")


def test_init_key_writes_a_private_file(no_key_env: Path) -> None:
    key = init_key()
    path = no_key_env / "secrets" / "pseudonym.key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    text = path.read_text().strip()
    assert len(text) == 64 and bytes.fromhex(text) == key.secret
    assert load_key() == key
    assert load_key().source == f"file {path}"


def test_init_key_refuses_to_overwrite_without_force(no_key_env: Path) -> None:
    first = init_key()
    with pytest.raises(UserError, match="already exists.*--force"):
        init_key()
    assert load_key() == first
    second = init_key(force=True)
    assert second.key_id != first.key_id
    assert load_key() == second
    path = no_key_env / "secrets" / "pseudonym.key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert not list(path.parent.glob("*.tmp"))


def test_init_key_at_a_custom_path(no_key_env: Path, tmp_path: Path) -> None:
    target = tmp_path / "elsewhere" / "deep" / "my.key"
    key = init_key(target)
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert stat.S_IMODE(target.parent.stat().st_mode) == 0o700
    assert not (no_key_env / "secrets").exists()
    os.environ["REGIONLAB_KEY_FILE"] = str(target)
    try:
        assert load_key() == key
    finally:
        del os.environ["REGIONLAB_KEY_FILE"]


def test_missing_key_is_a_clear_user_error(no_key_env: Path) -> None:
    with pytest.raises(UserError) as info:
        load_key()
    assert str(info.value) == NO_KEY_MESSAGE
    assert "no pseudonymisation key: run `regionlab keys init` or set REGIONLAB_KEY_FILE" in str(
        info.value
    )


def test_key_from_environment_hex_and_text(
    no_key_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REGIONLAB_KEY", SECRET_HEX)
    key = load_key()
    assert key.secret == bytes.fromhex(SECRET_HEX)
    assert key.source == "environment variable REGIONLAB_KEY"
    monkeypatch.setenv("REGIONLAB_KEY", "en lang hemmelig tekst med æøå")
    assert load_key().secret == "en lang hemmelig tekst med æøå".encode()


def test_key_file_wins_over_environment_value(
    no_key_env: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    file_key = init_key(tmp_path / "file.key")
    init_key()  # a default key too: it must not be used either
    monkeypatch.setenv("REGIONLAB_KEY", SECRET_HEX)
    monkeypatch.setenv("REGIONLAB_KEY_FILE", str(tmp_path / "file.key"))
    assert load_key() == file_key
    monkeypatch.delenv("REGIONLAB_KEY_FILE")
    assert load_key().secret == bytes.fromhex(SECRET_HEX)  # env value wins over the default


@pytest.mark.parametrize(
    ("content", "message"),
    [("", "is empty"), ("\n  \n", "is empty"), ("abcdef0123", "too short"), ("kort", "too short")],
)
def test_bad_key_files_are_user_errors(
    no_key_env: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, content: str, message: str
) -> None:
    path = tmp_path / "bad.key"
    path.write_text(content)
    monkeypatch.setenv("REGIONLAB_KEY_FILE", str(path))
    with pytest.raises(UserError, match=message) as info:
        load_key()
    assert str(path) in str(info.value)
    if content.strip():
        assert content.strip() not in str(info.value)


def test_short_environment_key_is_a_user_error(
    no_key_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REGIONLAB_KEY", "hemmelig")
    with pytest.raises(UserError, match="REGIONLAB_KEY is too short") as info:
        load_key()
    assert "hemmelig" not in str(info.value)


def test_missing_key_file_names_the_path(
    no_key_env: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REGIONLAB_KEY_FILE", str(tmp_path / "nope.key"))
    with pytest.raises(UserError, match="nope.key.*does not exist"):
        load_key()


def test_derive_key_differs_per_purpose() -> None:
    main = PseudonymKey(secret=bytes.fromhex(SECRET_HEX))
    a1, a2 = derive_key(main, "projekt-a"), derive_key(main, "projekt-a")
    b = derive_key(main, "projekt-b")
    assert a1 == a2 and a1.key_id == a2.key_id
    assert a1.secret != b.secret and a1.key_id != b.key_id
    assert a1.secret != main.secret and a1.key_id != main.key_id
    other_main = PseudonymKey(secret=bytes(32))
    assert derive_key(other_main, "projekt-a").secret != a1.secret
    assert main.key_id in a1.source and "projekt-a" in a1.source
    with pytest.raises(ValueError):
        derive_key(main, " ")


# --- CLI ----------------------------------------------------------------------

# Runs the real ``cli.main`` (its UserError handling) with only the
# keys group registered, so this test does not depend on the other commands.
_CLI = """
import sys
import cli as cli
from cli import keys_cmd
cli._register = lambda: cli.app.add_typer(keys_cmd.app, name="keys")
sys.argv = ["regionlab", *sys.argv[1:]]
cli.main()
"""


def _cli(var_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("REGIONLAB_KEY", "REGIONLAB_KEY_FILE")}
    env["REGIONLAB_VAR"] = str(var_dir)
    env["COLUMNS"] = "200"
    return subprocess.run(
        [sys.executable, "-c", _CLI, *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


def test_cli_show_without_key_exits_1_without_traceback(no_key_env: Path) -> None:
    result = _cli(no_key_env, "keys", "show")
    assert result.returncode == 1
    assert "no pseudonymisation key: run `regionlab keys init`" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


def test_cli_init_and_show_print_id_and_path_never_the_key(no_key_env: Path) -> None:
    path = no_key_env / "secrets" / "pseudonym.key"
    result = _cli(no_key_env, "keys", "init")
    assert result.returncode == 0, result.stderr
    secret_hex = path.read_text().strip()
    key_id = key_id_of(bytes.fromhex(secret_hex))
    assert key_id in result.stdout and str(path) in result.stdout
    assert secret_hex not in result.stdout + result.stderr
    assert stat.S_IMODE(path.stat().st_mode) == 0o600

    again = _cli(no_key_env, "keys", "init")
    assert again.returncode == 1
    assert "already exists" in again.stderr and "Traceback" not in again.stderr
    assert path.read_text().strip() == secret_hex

    shown = _cli(no_key_env, "keys", "show")
    assert shown.returncode == 0
    assert f"key id: {key_id}" in shown.stdout and str(path) in shown.stdout
    assert secret_hex not in shown.stdout

    forced = _cli(no_key_env, "keys", "init", "--force")
    assert forced.returncode == 0
    assert path.read_text().strip() != secret_hex


def test_cli_init_with_path(no_key_env: Path, tmp_path: Path) -> None:
    target = tmp_path / "keys" / "project.key"
    result = _cli(no_key_env, "keys", "init", "--path", str(target))
    assert result.returncode == 0, result.stderr
    assert target.is_file() and f"REGIONLAB_KEY_FILE={target}" in result.stdout
    assert target.read_text().strip() not in result.stdout


def test_real_entry_point_reports_missing_key(no_key_env: Path) -> None:
    """The installed ``regionlab`` command with every group registered."""
    env = {k: v for k, v in os.environ.items() if k not in ("REGIONLAB_KEY", "REGIONLAB_KEY_FILE")}
    env["REGIONLAB_VAR"] = str(no_key_env)
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from cli import main; sys.argv[0] = 'regionlab'; main()",
            "keys",
            "show",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert result.returncode == 1
    assert "no pseudonymisation key" in result.stderr
    assert "Traceback" not in result.stderr
