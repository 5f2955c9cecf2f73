"""Extensions load from the pip packages, and nothing is ever downloaded."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import duckdb
import pytest

from regionlab.errors import UserError
from regionlab.lake import duckdb_connect, extension_directory, load_extensions

REPO = Path(__file__).resolve().parents[2]

OFFLINE_SCRIPT = textwrap.dedent(
    """
    import json, socket
    # Prove the sandbox really has no network before trusting the result.
    reachable = []
    for address in [("1.1.1.1", 443), ("8.8.8.8", 53), ("extensions.duckdb.org", 443)]:
        try:
            socket.create_connection(address, timeout=3).close()
            reachable.append(address[0])
        except OSError:
            pass
    from regionlab import lake
    con = lake.connect()
    snap = lake.publish(con, "offline", "numbers", "SELECT range AS x FROM range(100)")
    total = con.execute("SELECT sum(x) FROM lake.offline.numbers").fetchone()[0]
    loaded = dict(con.execute(
        "SELECT extension_name, install_path FROM duckdb_extensions() WHERE loaded"
    ).fetchall())
    print(json.dumps({"reachable": reachable, "snapshot": snap, "sum": total,
                      "ducklake": loaded.get("ducklake"), "sqlite": loaded.get("sqlite_scanner")}))
    """
)


def _no_network_prefix() -> list[str]:
    """``unshare`` into a fresh network namespace (only loopback, and that is down)."""
    unshare = shutil.which("unshare")
    assert unshare is not None, "unshare(1) (util-linux) is needed to cut the network"
    prefix = [unshare, "-n"] if os.geteuid() == 0 else [unshare, "-rn"]
    probe = subprocess.run([*prefix, "true"], capture_output=True, text=True)
    assert probe.returncode == 0, f"cannot create a network namespace: {probe.stderr.strip()}"
    return prefix


def test_lake_works_without_network(var_dir: Path, tmp_path: Path) -> None:
    home = tmp_path / "home"  # an empty HOME: no ~/.duckdb/extensions to fall back on
    home.mkdir()
    env = {**os.environ, "HOME": str(home), "REGIONLAB_VAR": str(var_dir)}
    result = subprocess.run(
        [*_no_network_prefix(), sys.executable, "-c", OFFLINE_SCRIPT],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout.strip().splitlines()[-1])
    assert out["reachable"] == [], "the sandbox still had network access"
    assert out["sum"] == sum(range(100))
    assert out["snapshot"] >= 1
    assert out["ducklake"].startswith(str(extension_directory()))
    assert out["sqlite"].startswith(str(extension_directory()))
    assert not (home / ".duckdb").exists()


def test_extension_directory_holds_the_three_extensions() -> None:
    folder = extension_directory() / f"v{duckdb.__version__}"
    names = {p.name for p in folder.rglob("*.duckdb_extension")}
    assert {
        "ducklake.duckdb_extension",
        "sqlite_scanner.duckdb_extension",
        "postgres_scanner.duckdb_extension",
    } <= names


def test_connect_cannot_turn_downloads_back_on() -> None:
    con = duckdb_connect(config={"autoinstall_known_extensions": True, "threads": 1})
    settings = dict(
        con.execute(
            "SELECT name, value FROM duckdb_settings() WHERE name IN "
            "('autoinstall_known_extensions', 'extension_directory', 'threads')"
        ).fetchall()
    )
    assert settings["autoinstall_known_extensions"] == "false"
    assert settings["extension_directory"] == str(extension_directory())
    assert settings["threads"] == "1"


def test_missing_extension_names_the_pip_package(tmp_path: Path) -> None:
    con = duckdb.connect(
        config={"extension_directory": str(tmp_path), "autoinstall_known_extensions": False}
    )
    with pytest.raises(UserError, match=r"duckdb-ext-ducklake==1\.4\.4"):
        load_extensions(con, "ducklake")
    with pytest.raises(UserError, match="duckdb-ext-postgres"):
        load_extensions(con, "postgres")
