"""Server settings: from regionlab.toml and the service's own file, never from the client's env."""

from __future__ import annotations

from pathlib import Path

import pytest

from regionlab.errors import UserError
from regionlab.settings import PROJECT_ROOT
from service.settings import load_service_settings

PROFILES = (PROJECT_ROOT / "regionlab.toml").read_text(encoding="utf-8").split("\n[service]")[0]


def _config(tmp_path: Path, service: str) -> Path:
    path = tmp_path / "regionlab.toml"
    path.write_text(PROFILES + "\n" + service, encoding="utf-8")
    return path


def test_the_repository_defaults(var_dir: Path) -> None:
    settings = load_service_settings()
    assert settings.min_cell == 5 and settings.host == "127.0.0.1"
    assert not settings.oidc.enabled


def test_toml_profile_and_server_file_in_that_order_and_no_env(
    var_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(
        "REGIONLAB_CONFIG",
        str(
            _config(
                tmp_path,
                "[service]\nmin_cell = 7\nport = 9000\n[service.multiuser]\nmin_cell = 11\n",
            )
        ),
    )
    for name in ("REGIONLAB_MIN_CELL", "REGIONLAB_SERVICE_MIN_CELL", "REGIONLAB_PORT"):
        monkeypatch.setenv(name, "1")
    assert load_service_settings().min_cell == 7
    assert load_service_settings().port == 9000
    monkeypatch.setenv("REGIONLAB_PROFILE", "multiuser")
    assert load_service_settings().min_cell == 11
    (var_dir / "service").mkdir()
    (var_dir / "service" / "settings.toml").write_text("min_cell = 20\n", encoding="utf-8")
    assert load_service_settings().min_cell == 20


def test_a_floor_below_two_or_an_unknown_key_is_refused(var_dir: Path) -> None:
    (var_dir / "service").mkdir()
    local = var_dir / "service" / "settings.toml"
    local.write_text("min_cell = 1\n", encoding="utf-8")
    with pytest.raises(UserError, match="min_cell"):
        load_service_settings()
    local.write_text("min_cel = 10\n", encoding="utf-8")
    with pytest.raises(UserError, match="min_cel"):
        load_service_settings()
