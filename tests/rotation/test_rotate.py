"""`regionlab keys rotate` on a small synthetic region built through the real pipelines.

Issue 15, finding 4: rotation re-keys every product, the suppression list, labels and
workspaces in one transaction (or refuses); an erased person stays erased across it.
"""

from __future__ import annotations

import json
import shutil
import stat
from pathlib import Path

import polars as pl
import pytest

from regionlab import lake
from regionlab.erasure import erase, make_request
from regionlab.erasure.resolve import key_digest
from regionlab.errors import UserError
from regionlab.platform.lake_key import KeyMismatch, lake_key_ids
from regionlab.platform.tables import SUPPRESSION_LIST
from regionlab.privacy.keys import derive_key, load_key
from regionlab.privacy.pseudonym import person_key
from regionlab.research.workspace import read_manifest
from regionlab.rotation import keyfiles, rotate
from regionlab.settings import Settings
from regionlab.spec import load_domains
from regionlab.steps import observe
from regionlab.wap.engine import run_source_product
from tests.erasure.test_erase_everywhere import PROJECT, build_all, build_project_workspace
from tests.rotation.helpers import (
    cprs_by_key,
    drop_register_lines,
    lake_keys,
    run_cli,
    scalar,
    snapshot,
    table_counts,
)

REGISTRY = load_domains()
PERSONS = REGISTRY.product("population/persons")
#: A labelling task over a product whose row key is the person key.
PERSON_LABELS = "population__persons__review"

JOINS = {
    "notes→persons": "SELECT count(*) FROM lake.clinical_notes.notes n "
    "JOIN lake.population.persons p USING (person_key)",
    "labs→persons": "SELECT count(*) FROM lake.laboratory.lab_results l "
    "JOIN lake.population.persons p USING (person_key)",
    "cohort→prescriptions": "SELECT count(*) FROM lake.research.t2d_cohort c "
    "JOIN lake.medication.prescriptions m USING (person_key)",
}


def _joins() -> dict[str, int]:
    return {name: int(scalar(sql)) for name, sql in JOINS.items()}


def _publish_person_labels(settings: Settings, keys: list[str]) -> None:
    frame = pl.DataFrame({"row_key": keys, "label": ["ok"] * len(keys)})
    con = lake.connect()
    lake.publish(con, "labels", PERSON_LABELS, con.from_arrow(frame.to_arrow()))
    con.close()
    export = settings.label_exports_dir / f"{PERSON_LABELS}.jsonl"
    export.parent.mkdir(parents=True, exist_ok=True)
    export.write_text("".join(json.dumps({"row_key": k, "label": "ok"}) + "\n" for k in keys))


def _export_keys(settings: Settings) -> list[str]:
    path = settings.label_exports_dir / f"{PERSON_LABELS}.jsonl"
    return [json.loads(line)["row_key"] for line in path.read_text().splitlines()]


@pytest.mark.slow
def test_rotate_end_to_end_with_erasure_before_and_after(
    platform: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    build_all(platform)
    old = load_key()
    cprs = cprs_by_key(platform, old)
    persons = sorted(lake_keys("population/persons"))
    erased_key, later_key, labelled = persons[0], persons[1], persons[2:12]
    _publish_person_labels(platform, labelled)
    build_project_workspace(tmp_path)

    erased_cpr = cprs[erased_key]
    assert erase(make_request("R-ROT-1", "indsigelse", [erased_cpr])).verification.passed
    counts, joins = table_counts(), _joins()
    old_keys = {ref: lake_keys(ref) for ref in counts if ref.split("/")[0] in (
        "population", "clinical_notes", "laboratory", "medication", "research")
        and "person_key" in _columns(ref)}  # fmt: skip
    key_file = platform.secrets_dir / "pseudonym.key"

    code, output = run_cli(capsys, "keys", "rotate")
    assert code == 0, output
    new = load_key()
    assert new.key_id != old.key_id
    # no identifier in the output: no CPR number, no person key under either key
    assert not any(c in output for c in cprs.values())
    assert not any(k in output for ks in old_keys.values() for k in ks)
    assert "population/persons" in output  # per-product progress lines

    assert table_counts() == counts
    assert _joins() == joins
    new_of = {k: person_key(c, new) for k, c in cprs.items()}
    for ref, keys in old_keys.items():
        rekeyed = lake_keys(ref)
        assert rekeyed.isdisjoint(keys), ref  # every pseudonym changed
        assert rekeyed == {new_of[k] for k in keys}, ref  # ... to HMAC(new key, CPR)
    assert sorted(lake_keys(f"labels/{PERSON_LABELS}", "row_key")) == sorted(
        new_of[k] for k in labelled
    )
    assert sorted(_export_keys(platform)) == sorted(new_of[k] for k in labelled)

    con = lake.connect(read_only=True)
    assert lake_key_ids(con) == [new.key_id]
    digests = {r[0] for r in con.execute(f"SELECT key_digest FROM {SUPPRESSION_LIST.qualified}")
               .fetchall()}  # fmt: skip
    con.close()
    assert digests == {key_digest(person_key(erased_cpr, new))}

    # the key file holds the new key; the old one is kept beside it, 0600
    assert new.source == f"file {key_file}"
    backup = keyfiles.backup_path(key_file, old.key_id)
    assert stat.S_IMODE(backup.stat().st_mode) == 0o600
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert not keyfiles.pending_path(key_file).exists()

    # the workspace was rebuilt under the new project key
    manifest = read_manifest(PROJECT)
    assert manifest.project_key_id == derive_key(new, f"project:{PROJECT}").key_id

    # a run with the old key now refuses, and publishes nothing
    before = snapshot()
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("REGIONLAB_KEY_FILE", str(backup))
        with pytest.raises(KeyMismatch):
            run_source_product(PERSONS, platform, full_refresh=True)
    assert snapshot() == before

    # the person erased before the rotation does not come back with a full reload
    again = run_source_product(PERSONS, platform, full_refresh=True)
    assert again.status == "published", again.blocking_failures
    reloaded = lake_keys("population/persons")
    assert person_key(erased_cpr, new) not in reloaded
    assert (
        reloaded == lake_keys("population/persons")
        and len(reloaded) == counts["population/persons"]
    )

    # an erasure after the rotation finds the person under the new key
    later_cpr = cprs[later_key]
    receipt = erase(make_request("R-ROT-2", "indsigelse", [later_cpr]))
    assert receipt.verification.passed, receipt.verification
    assert receipt.key_id == new.key_id and receipt.persons_found == 1
    assert person_key(later_cpr, new) not in lake_keys("population/persons")


def _columns(ref: str) -> list[str]:
    schema, table = ref.split("/")
    con = lake.connect(read_only=True)
    try:
        return [
            r[0]
            for r in con.execute(
                "SELECT column_name FROM duckdb_columns() WHERE database_name = 'lake' "
                "AND schema_name = ? AND table_name = ?",
                [schema, table],
            ).fetchall()
        ]
    finally:
        con.close()


class Boom(RuntimeError):
    pass


def test_a_failure_mid_rotation_leaves_the_old_key_current(platform: Settings) -> None:
    assert run_source_product(PERSONS, platform).status == "published"
    old = load_key()
    cprs = cprs_by_key(platform, old)
    _publish_person_labels(platform, sorted(lake_keys("population/persons"))[:5])
    erased = next(iter(cprs.values()))
    assert erase(make_request("R-ROT-3", "indsigelse", [erased])).verification.passed
    before = (snapshot(), lake_keys("population/persons"), lake_keys(
        f"labels/{PERSON_LABELS}", "row_key"))  # fmt: skip
    key_file = platform.secrets_dir / "pseudonym.key"
    key_text = key_file.read_text()

    def fail_on_second_table(name: str):
        if name == "rotate.suppression_list":  # after both tables were rewritten
            raise Boom("injected")
        from contextlib import nullcontext

        return nullcontext()

    with observe(fail_on_second_table), pytest.raises(Boom):
        rotate()
    after = (snapshot(), lake_keys("population/persons"), lake_keys(
        f"labels/{PERSON_LABELS}", "row_key"))  # fmt: skip
    assert after == before
    con = lake.connect(read_only=True)
    assert lake_key_ids(con) == [old.key_id]
    con.close()
    assert key_file.read_text() == key_text and load_key().key_id == old.key_id
    pending = keyfiles.read_pending(key_file)
    assert pending is not None  # kept 0600 for the re-run
    assert stat.S_IMODE(keyfiles.pending_path(key_file).stat().st_mode) == 0o600

    # runs still work on the old key meanwhile
    assert run_source_product(PERSONS, platform).status in ("published", "up_to_date")

    # a re-run completes the rotation with the same pending key
    report = rotate()
    assert report.new_key_id == pending.key_id and not report.resumed
    assert load_key().key_id == pending.key_id
    assert lake_keys("population/persons") == {person_key(c, pending) for k, c in cprs.items()
                                               if k in before[1]}  # fmt: skip


def test_a_crash_after_the_commit_is_resumed(
    platform: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_source_product(PERSONS, platform).status == "published"
    old = load_key()
    key_file = platform.secrets_dir / "pseudonym.key"

    def crash_before_swap(name: str):
        if name == "rotate.key_file":
            raise Boom("injected")
        from contextlib import nullcontext

        return nullcontext()

    with observe(crash_before_swap), pytest.raises(Boom):
        rotate()
    pending = keyfiles.read_pending(key_file)
    assert pending is not None and load_key().key_id == old.key_id
    con = lake.connect(read_only=True)
    assert lake_key_ids(con) == [pending.key_id]  # committed
    con.close()
    with pytest.raises(KeyMismatch) as refused:  # every run refuses until it is finished
        run_source_product(PERSONS, platform, full_refresh=True)
    assert "regionlab keys rotate" in str(refused.value)
    code, output = run_cli(capsys, "keys", "show")
    assert code == 0 and "did not finish" in " ".join(output.split())
    keys = lake_keys("population/persons")
    code, output = run_cli(capsys, "keys", "rotate")
    assert code == 0, output
    assert "committed earlier" in " ".join(output.split())
    assert load_key().key_id == pending.key_id
    assert lake_keys("population/persons") == keys  # not re-keyed twice
    assert run_source_product(PERSONS, platform).status in ("published", "up_to_date")


def test_persons_missing_from_the_sources_refuse_and_an_erased_one_never_returns(
    platform: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    for system in ("lpr3", "labka", "fmk", "epj"):  # only the register holds these persons
        shutil.rmtree(platform.sources_dir / system)
    assert run_source_product(PERSONS, platform).status == "published"
    old = load_key()
    cprs = cprs_by_key(platform, old)
    in_lake = sorted(lake_keys("population/persons"))
    erased, gone = cprs[in_lake[0]], cprs[in_lake[1]]
    assert erase(make_request("R-ROT-4", "indsigelse", [erased])).verification.passed
    register = {p: p.read_text() for p in (platform.sources_dir / "cpr" / "persons").glob("*")}
    drop_register_lines(platform, {erased, gone})
    before = (snapshot(), lake_keys("population/persons"))

    code, output = run_cli(capsys, "keys", "rotate")
    assert code == 1
    text = " ".join(output.split())
    assert "1 of 1 erased persons" in text and "--cprs" in text
    assert not keyfiles.pending_path(platform.secrets_dir / "pseudonym.key").exists()
    assert erased not in output and gone not in output
    cpr_file = platform.var_dir / "erased.txt"
    cpr_file.write_text(erased + "\n")
    code, output = run_cli(capsys, "keys", "rotate", "--cprs", str(cpr_file))
    assert code == 1
    assert "1 persons in the lake are not in the source zone" in " ".join(output.split())
    assert erased not in output and gone not in output
    assert (snapshot(), lake_keys("population/persons")) == before
    assert load_key().key_id == old.key_id

    code, output = run_cli(capsys, "keys", "rotate", "--cprs", str(cpr_file), "--drop-unmapped")
    assert code == 0, output
    new = load_key()
    keys = lake_keys("population/persons")
    assert len(keys) == len(before[1]) - 1
    assert person_key(gone, new) not in keys and person_key(gone, old) not in keys

    # the deliveries come back whole: the erased person stays out, the other returns
    for path, text in register.items():
        path.write_text(text)
    again = run_source_product(PERSONS, platform, full_refresh=True)
    assert again.status == "published", again.blocking_failures
    keys = lake_keys("population/persons")
    assert person_key(erased, new) not in keys
    assert person_key(gone, new) in keys


def test_a_lake_without_keyed_data_has_nothing_to_rotate(keyed_var: Settings) -> None:
    with pytest.raises(UserError, match="nothing to rotate"):
        rotate()
