"""Extensions load from the pip packages, and nothing is ever downloaded."""

from __future__ import annotations

import json
import os
import re
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
    # An encrypted DuckDB file: writing needs httpfs's crypto module, loaded offline too.
    enc = lake.duckdb_connect()
    enc.execute(f"ATTACH '{ENC_FILE}' AS w (ENCRYPTION_KEY 'offline-test-key')")
    enc.execute("CREATE TABLE w.t AS SELECT range AS x FROM range(10)")
    enc.execute("DETACH w")
    enc.execute(f"ATTACH '{ENC_FILE}' AS r (ENCRYPTION_KEY 'offline-test-key', READ_ONLY)")
    enc_sum = enc.execute("SELECT sum(x) FROM r.t").fetchone()[0]
    httpfs = dict(enc.execute(
        "SELECT extension_name, install_path FROM duckdb_extensions() WHERE loaded"
    ).fetchall()).get("httpfs")
    enc.close()
    print(json.dumps({"reachable": reachable, "snapshot": snap, "sum": total,
                      "ducklake": loaded.get("ducklake"), "sqlite": loaded.get("sqlite_scanner"),
                      "encrypted_sum": enc_sum, "httpfs": httpfs}))
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
    env.pop("XDG_CACHE_HOME", None)
    encrypted = tmp_path / "encrypted.duckdb"
    script = f"ENC_FILE = {str(encrypted)!r}\n" + OFFLINE_SCRIPT
    result = subprocess.run(
        [*_no_network_prefix(), sys.executable, "-c", script],
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
    # The sandbox built its own extension folder of symlinks in its own (empty) HOME,
    # pointing at the same package files as this process's folder.
    own = home / ".cache" / "regionlab" / "duckdb-extensions"
    for name in ("ducklake", "sqlite", "httpfs"):
        assert out[name].startswith(str(own)), name
        inside = Path(out[name]).relative_to(own).parts[1:]  # v<ver>/<platform>/<file>
        assert Path(out[name]).resolve() == extension_directory().joinpath(*inside).resolve()
    assert out["encrypted_sum"] == sum(range(10))
    assert not (home / ".duckdb").exists()
    assert b"offline-test-key" not in encrypted.read_bytes()


def test_extension_directory_holds_the_four_extensions() -> None:
    folder = extension_directory() / f"v{duckdb.__version__}"
    names = {p.name for p in folder.rglob("*.duckdb_extension") if p.resolve().is_file()}
    assert {
        "ducklake.duckdb_extension",
        "sqlite_scanner.duckdb_extension",
        "postgres_scanner.duckdb_extension",
        "httpfs.duckdb_extension",
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
    version = re.escape(duckdb.__version__)
    with pytest.raises(UserError, match=rf"duckdb-extension-ducklake=={version}"):
        load_extensions(con, "ducklake")
    with pytest.raises(UserError, match="duckdb-extension-postgres-scanner"):
        load_extensions(con, "postgres")
    with pytest.raises(UserError, match="duckdb-extension-httpfs"):
        load_extensions(con, "httpfs")


def test_encrypted_database_file_cannot_be_opened_without_its_key(tmp_path: Path) -> None:
    """Issue 19's encrypted workspaces: written through httpfs's crypto module, unreadable
    to a plain connection and to a wrong key, readable with the key."""
    path = tmp_path / "workspace.duckdb"
    con = duckdb_connect()
    con.execute(f"ATTACH '{path}' AS w (ENCRYPTION_KEY 'right-key')")
    con.execute("CREATE TABLE w.cohort AS SELECT 'person-' || range AS pseudonym FROM range(50)")
    con.execute("DETACH w")
    loaded = {
        r[0]
        for r in con.execute(
            "SELECT extension_name FROM duckdb_extensions() WHERE loaded"
        ).fetchall()
    }
    con.close()
    assert "httpfs" in loaded, "the encrypted write did not go through httpfs's crypto module"
    assert b"person-1" not in path.read_bytes()

    with pytest.raises(duckdb.Error, match="without a key"):
        duckdb.connect(str(path))
    wrong = duckdb_connect()
    with pytest.raises(duckdb.Error):
        wrong.execute(f"ATTACH '{path}' AS w (ENCRYPTION_KEY 'wrong-key', READ_ONLY)")
        wrong.execute("SELECT count(*) FROM w.cohort").fetchone()
    wrong.close()

    reader = duckdb_connect()
    reader.execute(f"ATTACH '{path}' AS w (ENCRYPTION_KEY 'right-key', READ_ONLY)")
    assert reader.execute("SELECT count(*) FROM w.cohort").fetchone()[0] == 50
    reader.close()


def test_duckdb_draws_no_progress_bar_of_its_own() -> None:
    """Its bar went to stdout between regionlab's own progress, hundreds of lines per run."""
    from regionlab.lake.extensions import duckdb_connect

    con = duckdb_connect()
    assert con.execute("SELECT current_setting('enable_progress_bar')").fetchone() == (False,)
