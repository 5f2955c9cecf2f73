"""Issue 15 finding 5: raw CPRs in staging files are private and never outlive their run."""

from __future__ import annotations

import fcntl
import os
import shutil
import stat
from pathlib import Path

from regionlab.settings import LOCATIONS, Settings
from regionlab.spec import load_domains
from regionlab.wap.engine import run_source_product

REGISTRY = load_domains()


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_staging_is_private_during_the_run_and_gone_after(platform: Settings) -> None:
    seen: dict[str, int] = {}
    staging = platform.staging_file("population", "persons")

    def look() -> None:  # between audit and publish: the raw table is in the file
        seen["dir"] = _mode(platform.staging_dir)
        seen["file"] = _mode(staging)
        seen.update({p.name: _mode(p) for p in platform.staging_dir.iterdir()})

    run = run_source_product(REGISTRY.product("population/persons"), platform, before_publish=look)
    assert run.status == "published"
    assert seen["dir"] == 0o700 and seen["file"] == 0o600
    assert all(mode & 0o077 == 0 for mode in seen.values()), seen
    assert not staging.exists()

    # Everything under var/ that can hold person data: its top folder is the owner's
    # alone, and the zone files with raw values are 0600.
    for location in LOCATIONS:
        folder = platform.var_dir / location.folder
        if location.person_data and folder.exists():
            assert _mode(folder) == 0o700, location.folder
    for path in [*platform.staging_dir.rglob("*"), *platform.quarantine_dir.rglob("*")]:
        if path.is_file():
            assert _mode(path) & 0o077 == 0, path


def test_source_files_the_platform_writes_are_0640_or_stricter(platform: Settings) -> None:
    files = [p for p in platform.sources_dir.rglob("*") if p.is_file()]
    assert files
    assert all(_mode(p) & 0o137 == 0 for p in files), {p.name: oct(_mode(p)) for p in files}


def test_a_crashed_runs_staging_file_is_removed_when_any_run_starts(platform: Settings) -> None:
    persons = REGISTRY.product("population/persons")
    run_source_product(persons, platform, keep_staging=False)
    # A run of the notes died with its raw table on disk (no process holds its lock) ...
    crashed = platform.staging_file("clinical_notes", "notes")
    live = platform.staging_file("diagnoses", "diagnoses")
    source = next(platform.quarantine_dir.glob("*.duckdb"))
    for path in (crashed, live):
        shutil.copy(source, path)
    # ... while a run of the diagnoses is alive and holds its lock.
    lock = os.open(live.with_suffix(".lock"), os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(lock, fcntl.LOCK_EX)
    try:
        run_source_product(REGISTRY.product("laboratory/lab_results"), platform)
        assert not crashed.exists()
        assert live.exists()
    finally:
        os.close(lock)
    run_source_product(REGISTRY.product("laboratory/lab_results"), platform)
    assert not live.exists()


def test_a_run_caps_duckdb_memory_and_spills_only_into_its_private_folder(
    platform: Settings, monkeypatch, tmp_path: Path
) -> None:
    """Issue 23 (memory): the person-ordered publish sorts whole tables; capped, it spills.

    The spill holds the run's rows, so it goes beside the staging file (0700 folder,
    removed with it), never into DuckDB's default ``.tmp`` in the working directory.
    """
    monkeypatch.setenv("REGIONLAB_DUCKDB_MEMORY_LIMIT", "300MB")
    monkeypatch.chdir(tmp_path)
    seen: dict[str, object] = {}

    def hook(con, staging, product, ref_date) -> list:  # the run's own connection
        seen["limit"], seen["temp"] = con.execute(
            "SELECT current_setting('memory_limit'), current_setting('temp_directory')"
        ).fetchone()
        # a sort of more than the cap completes by spilling into the run's folder
        con.execute(
            "COPY (SELECT i, md5(CAST(i AS VARCHAR)) AS m FROM range(6000000) t(i) "
            f"ORDER BY hash(i)) TO '{tmp_path / 'sorted.parquet'}'"
        )
        seen["spilled"] = Path(str(seen["temp"])).is_dir()
        return []

    run = run_source_product(REGISTRY.product("population/persons"), platform, quality_hook=hook)
    assert run.status == "published"
    spill = Path(str(seen["temp"]))
    assert spill.parent == platform.staging_dir
    assert spill.name.startswith("population.persons.spill-"), spill.name
    assert str(seen["limit"]).startswith("28") and "MiB" in str(seen["limit"]), seen["limit"]
    assert seen["spilled"] is True
    assert not spill.exists()
    assert not (tmp_path / ".tmp").exists()


def test_a_dead_runs_spill_folder_is_swept_and_a_live_runs_is_kept(platform: Settings) -> None:
    dead = platform.spill_dir("clinical_notes", "notes", "r1")
    live = platform.spill_dir("diagnoses", "diagnoses", "r2")
    for folder in (dead, live):
        folder.mkdir(parents=True)
        (folder / "duckdb_temp_storage-0.tmp").write_bytes(b"rows")
    lock = os.open(platform.staging_file("diagnoses", "diagnoses").with_suffix(".lock"),
                   os.O_RDWR | os.O_CREAT, 0o600)  # fmt: skip
    fcntl.flock(lock, fcntl.LOCK_EX)
    try:
        from regionlab.wap.staging import sweep_stale

        sweep_stale(platform)
        assert not dead.exists()
        assert live.exists()
    finally:
        os.close(lock)


def test_two_runs_of_one_product_never_share_a_spill_folder(platform: Settings) -> None:
    """A second run of a product opens its connection before it waits for the staging lock,
    and the first run closes its connection after it released that lock. DuckDB removes
    its temp files by name (and a folder it created) on close: with one folder per
    product the first run's close deleted the second run's spilled rows mid-query."""
    import duckdb

    from regionlab.wap.staging import run_duckdb_config

    platform.staging_dir.mkdir(parents=True, exist_ok=True)
    configs = [
        {**run_duckdb_config(platform, "laboratory", "lab_results", run_id), "memory_limit": "64MB"}
        for run_id in ("run-a", "run-b")
    ]
    assert configs[0]["temp_directory"] != configs[1]["temp_directory"]
    spill = "CREATE TEMP TABLE t AS SELECT i, md5(CAST(i AS VARCHAR)) AS m FROM range(2000000) t(i)"
    first, second = (duckdb.connect(config=c) for c in configs)
    first.execute(spill)
    second.execute(spill)
    first.close()  # the first run ends while the second one is running
    try:
        assert second.execute("SELECT count(*) FROM t").fetchone() == (2000000,)
    finally:
        second.close()


def test_an_erasure_removes_and_counts_a_crashed_runs_spill_folder(platform: Settings) -> None:
    """A run killed mid-sort leaves DuckDB's temp files (raw rows, CPR numbers included) in
    its spill folder, with or without its staging file; the erasure's staging store must
    remove them and its verification must count what is left."""
    from regionlab.wap.staging import remove_all

    spill = platform.spill_dir("population", "persons", "crashed")
    spill.mkdir(parents=True)
    (spill / "duckdb_temp_storage_DEFAULT-0.tmp").write_bytes(b"0101901234")
    assert platform.staging_files() == [spill]  # what the erasure's verification counts
    assert remove_all(platform) == 1
    assert not spill.exists() and platform.staging_files() == []
