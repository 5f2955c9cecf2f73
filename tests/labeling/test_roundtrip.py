"""Push → annotate (two annotators, through the API) → pull, against the session's real server.

The notes are hand-made: raw texts name registered people with CPR and phone
numbers and are scrubbed the way the pipeline does before they are published
to the lake. Annotations are constructed so kappa and span F1 are known by
hand (see the comments at ``ANNOTATE``).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from pathlib import Path

import polars as pl
import pytest

from labeling import server as ls
from labeling.pull import pull
from labeling.push import push, resolve
from regionlab import lake
from regionlab.errors import UserError
from regionlab.privacy.scrub import scrub_text
from tests.leakscan import Identifiers, scan_text

pytestmark = pytest.mark.slow

PRODUCT, TASK, SEED, LIMIT = "clinical_notes/notes", "entities", 2024, 5
NAMES = ["Jens", "Hansen", "Mette", "Kjærgaard", "Søren", "Østergaard"]
PEOPLE = [  # (first, last, cpr, phone)
    ("Jens", "Hansen", "010203-1234", "20 30 40 50"),
    ("Mette", "Kjærgaard", "111185-2468", "61 72 83 94"),
    ("Søren", "Østergaard", "2907771357", "+45 42424242"),
]
BODY = (
    "Kendt med Type 2-diabetes uden komplikationer. Behandles med Metformin 500 mg "
    "morgen og aften. Almentilstand upåvirket."
)


def _raw_note(i: int) -> str:
    first, last, cpr, phone = PEOPLE[i % len(PEOPLE)]
    return (
        f"Notat {i}. {first} {last}, CPR {cpr}, tlf. {phone}. {BODY} Ring til {first} på {phone}."
    )


@pytest.fixture(scope="module")
def env(ls_server: ls.LabelStudioServer, ls_var: Path):
    """The lake (hand-made, scrubbed notes) in the server's var folder, and an SDK client."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("REGIONLAB_VAR", str(ls_var))
        n = 7
        notes = pl.DataFrame(
            {
                "note_id": [f"N{i:04d}" for i in range(n)],
                "person_key": [f"pk{i}" for i in range(n)],
                "contact_id": [f"C{i}" for i in range(n)],
                "note_type": ["ambulant notat"] * n,
                "written_at": [dt.datetime(2024, 3, 1 + i, 9) for i in range(n)],
                "author_role": ["overlæge"] * n,
                "text": [scrub_text(_raw_note(i), NAMES) for i in range(n)],
            }
        )
        con = lake.connect()
        snapshot = lake.publish(con, "clinical_notes", "notes", con.from_arrow(notes.to_arrow()))
        con.close()
        yield {
            "sdk": ls.client(ls_server),
            "url": ls_server.url,
            "snapshot": snapshot,
            "notes": notes,
        }


def _tasks(sdk, project_id: int) -> list:
    return sorted(sdk.tasks.list(project=project_id, fields="all"), key=lambda t: t.data["row_key"])


@pytest.fixture(scope="module")
def pushed(env):
    return push(PRODUCT, TASK, sdk=env["sdk"], base_url=env["url"], limit=LIMIT)


def test_push_imports_the_reproducible_sample_with_predictions(env, pushed) -> None:
    expected = sorted(
        env["notes"]["note_id"].to_list(),
        key=lambda k: (hashlib.md5(f"{SEED}:{k}".encode()).hexdigest(), k),
    )[:LIMIT]
    tasks = _tasks(env["sdk"], pushed.project_id)
    assert sorted(t.data["row_key"] for t in tasks) == sorted(expected)
    assert pushed.title == "clinical_notes/notes:entities" and pushed.created == LIMIT
    for task in tasks:
        # Only the text, the stable row key and the snapshot: no person key, no other column.
        assert set(task.data) == {"text", "row_key", "snapshot_id"}
        assert task.data["snapshot_id"] == env["snapshot"] == pushed.snapshot_id
    predictions = env["sdk"].predictions.list(project=pushed.project_id)
    assert len(predictions) == LIMIT
    assert {p.model_version for p in predictions} == {pushed.model_version}
    found = {(r["value"]["labels"][0], r["value"]["text"]) for r in predictions[0].result}
    assert found == {
        ("DIAGNOSE", "Type 2-diabetes uden komplikationer"),
        ("MEDICIN", "Metformin"),
        ("DOSIS", "500 mg"),
    }


def test_push_sets_the_spec_s_overlap_on_the_project_queue(env, pushed) -> None:
    """Agreement through Label Studio's normal queue: the spec's overlap is the project's."""
    _, task = resolve(PRODUCT, TASK)
    assert task.overlap is not None
    project = env["sdk"].projects.get(id=pushed.project_id)
    assert project.maximum_annotations == task.overlap.annotators == 2
    assert project.overlap_cohort_percentage == round(task.overlap.share * 100)
    env["sdk"].projects.update(pushed.project_id, maximum_annotations=1)
    push(PRODUCT, TASK, sdk=env["sdk"], base_url=env["url"], limit=LIMIT)  # puts it back
    assert env["sdk"].projects.get(id=pushed.project_id).maximum_annotations == 2


def test_pushing_again_via_the_cli_creates_no_duplicates(env, pushed, ls_var) -> None:
    from typer.testing import CliRunner

    from cli.labeling_cmd import app

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("REGIONLAB_VAR", str(ls_var))
        result = CliRunner().invoke(app, ["push", PRODUCT, TASK, "--limit", str(LIMIT)])
    assert result.exit_code == 0, result.output
    assert "0 new tasks, 5 already there" in result.output
    assert len(_tasks(env["sdk"], pushed.project_id)) == LIMIT
    assert len(env["sdk"].predictions.list(project=pushed.project_id)) == LIMIT
    assert [p.id for p in env["sdk"].projects.list(title=pushed.title)] == [pushed.project_id]


def test_no_cpr_name_or_phone_reaches_the_server(env, pushed) -> None:
    sent = json.dumps([t.model_dump(mode="json") for t in _tasks(env["sdk"], pushed.project_id)])
    ids = Identifiers(
        cprs=frozenset(c.replace("-", "") for _, _, c, _ in PEOPLE),
        phones=frozenset(p.replace(" ", "")[-8:] for _, _, _, p in PEOPLE),
        full_names=frozenset(f"{a} {b}" for a, b, _, _ in PEOPLE),
    )
    assert sum(scan_text(sent, ids).values()) == 0
    for first, last, cpr, phone in PEOPLE:
        for value in (first, last, cpr, cpr.replace("-", ""), phone, phone.replace(" ", "")[-8:]):
            assert value not in sent
    assert "[NAVN]" in sent and "[CPR]" in sent and "[TELEFON]" in sent  # the scrubber ran


def test_pull_before_any_annotation_publishes_nothing(env, pushed, ls_var) -> None:
    """An empty labelled product would be catalogued without content: pull refuses."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("REGIONLAB_VAR", str(ls_var))
        with pytest.raises(UserError, match="no valid annotations"):
            pull(PRODUCT, TASK, sdk=env["sdk"], base_url=env["url"])
        con = lake.connect(read_only=True)
        try:
            assert not [t for t in lake.list_tables(con) if t[0] == "labels"]
        finally:
            con.close()


def _span(text: str, phrase: str, label: str, shift: int = 0) -> dict:
    start = text.index(phrase)
    end = start + len(phrase) + shift
    return {
        "id": f"{label}{start}",
        "from_name": "entities",
        "to_name": "text",
        "type": "labels",
        "value": {"start": start, "end": end, "text": text[start:end], "labels": [label]},
    }


def _choice(value: str) -> dict:
    return {
        "id": "c",
        "from_name": "document_class",
        "to_name": "text",
        "type": "choices",
        "value": {"choices": [value]},
    }


D, M, S = (
    ("Type 2-diabetes uden komplikationer", "DIAGNOSE"),
    ("Metformin", "MEDICIN"),
    ("500 mg", "DOSIS"),
)
# Tasks 0-3 (by row key), annotators A (admin) and B (bo):
#   DIAGNOSE: A 4 spans; B exact on tasks 0-2, one character short on task 3 (overlaps).
#             exact F1 = 2·3/(4+4) = 0.75, overlap F1 = 1.
#   MEDICIN:  A 4; B only tasks 0-1.  exact F1 = 2·2/(4+2) = 2/3; overlap P = 1, R = 1/2 → 2/3.
#   DOSIS:    both 4, exact.  1 and 1.
#   all:      exact 2·9/(12+10) = 9/11; overlap P = 10/10, R = 10/12 → 10/11.
#   class:    A s s f u, B s f f u → κ = 7/11 (p_o 3/4, p_e 5/16).
A_CLASSES = ["stabil", "stabil", "forværring", "uafklaret"]
B_CLASSES = ["stabil", "forværring", "forværring", "uafklaret"]


@pytest.fixture(scope="module")
def pulled(env, pushed):
    from labeling.pull import pull

    sdk = env["sdk"]
    admin = sdk.users.whoami().id
    bo = sdk.users.create(username="bo", email="bo@regionlab.local", password="Bo-annot-2024!x")
    tasks = _tasks(sdk, pushed.project_id)
    for i, task in enumerate(tasks[:4]):
        text = task.data["text"]
        a = [_span(text, *D), _span(text, *M), _span(text, *S), _choice(A_CLASSES[i])]
        b = [_span(text, *D, shift=-1 if i == 3 else 0), _span(text, *S), _choice(B_CLASSES[i])]
        if i < 2:
            b.append(_span(text, *M))
        sdk.annotations.create(task.id, result=a, completed_by=admin, lead_time=30.0 + i)
        sdk.annotations.create(task.id, result=b, completed_by=bo.id, lead_time=40.0 + i)
    bad = tasks[4]
    text = bad.data["text"]
    foo = _span(text, *D) | {"value": _span(text, *D)["value"] | {"labels": ["FOO"]}}
    shifted = _span(text, *M)
    shifted["value"] = shifted["value"] | {"start": shifted["value"]["start"] + 2}
    sdk.annotations.create(bad.id, result=[foo], completed_by=admin, lead_time=5.0)
    sdk.annotations.create(bad.id, result=[shifted, _choice("stabil")], completed_by=bo.id)
    result = pull(PRODUCT, TASK, sdk=sdk, base_url=env["url"])
    return {"result": result, "tasks": tasks, "bad": bad}


def test_invalid_annotations_are_rejected_with_task_and_annotator(pulled) -> None:
    rejected = pulled["result"].rejected
    bad_id = pulled["bad"].id
    assert len(rejected) == 2
    assert any(
        f"task {bad_id}" in r and "by admin" in r and "label 'FOO' is not in the label config" in r
        for r in rejected
    )
    assert any(f"task {bad_id}" in r and "by bo" in r and "does not match" in r for r in rejected)
    assert pulled["result"].accepted == 8


def test_labelled_product_has_one_row_per_span_or_choice(env, pulled, ls_var) -> None:
    result = pulled["result"]
    assert result.labelled_product == "labels/clinical_notes__notes__entities"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("REGIONLAB_VAR", str(ls_var))
        con = lake.connect(read_only=True)
        rows = con.execute("FROM lake.labels.clinical_notes__notes__entities").pl()
        history = con.execute(
            'SELECT "check", category, status, description FROM lake._regionlab.quality_history '
            'WHERE run_id = ? ORDER BY "check"',
            [result.run_id],
        ).pl()
        con.close()
    # A: 4 × (3 spans + 1 class) = 16; B: 2 × 4 + 2 × 3 = 14.
    assert rows.height == result.rows == 30
    assert rows.group_by("annotator").len().sort("annotator").rows() == [("admin", 16), ("bo", 14)]
    assert "person_key" not in rows.columns and "text" not in rows.columns
    assert set(rows["row_key"]) == {t.data["row_key"] for t in pulled["tasks"][:4]}
    assert set(rows["source_snapshot_id"]) == {env["snapshot"]}
    assert set(rows["project_id"]) == {result.project_id}
    first = pulled["tasks"][0]
    start = first.data["text"].index("Metformin")
    metformin = rows.filter(
        (pl.col("row_key") == first.data["row_key"]) & (pl.col("label") == "MEDICIN")
    )
    assert metformin.select("span_start", "span_end").unique().rows() == [(start, start + 9)]
    choice = rows.filter((pl.col("kind") == "choice") & (pl.col("annotator") == "bo"))
    assert sorted(choice["label"]) == sorted(B_CLASSES)
    assert choice["span_start"].null_count() == 4 and rows["lead_time_s"].min() == 30.0
    assert rows["annotated_at"].null_count() == 0

    checks = dict(zip(history["check"], history["description"], strict=True))
    assert "Cohen's kappa 0.6364" in checks["agreement.kappa.document_class.admin~bo"]
    assert (
        "span F1 (exact) 0.7500 for DIAGNOSE" in checks["agreement.span_f1_exact.DIAGNOSE.admin~bo"]
    )
    assert set(history.filter(pl.col("check").str.starts_with("agreement"))["category"]) == {
        "agreement"
    }
    assert history.filter(pl.col("check") == "annotations_valid")["status"].to_list() == ["failed"]


def test_agreement_matches_the_hand_computation(pulled) -> None:
    result = pulled["result"]
    [kappa] = result.kappas
    assert kappa.annotators == ("admin", "bo") and kappa.items == 4
    assert kappa.kappa == pytest.approx(7 / 11)
    f1 = {f.label: (f.exact_f1, f.overlap_f1) for f in result.span_f1}
    assert f1["DIAGNOSE"] == pytest.approx((0.75, 1.0))
    assert f1["MEDICIN"] == pytest.approx((2 / 3, 2 / 3))
    assert f1["DOSIS"] == pytest.approx((1.0, 1.0))
    assert f1["*"] == pytest.approx((9 / 11, 10 / 11))
    assert f1["UNDERSØGELSE"] == (None, None)


def test_training_export_holds_the_consensus(pulled) -> None:
    lines = [json.loads(x) for x in pulled["result"].training_export.read_text().splitlines()]
    by_key = {r["row_key"]: r for r in lines}
    tasks = pulled["tasks"]
    assert set(by_key) == {t.data["row_key"] for t in tasks[:4]}  # the rejected task is not there
    first, last = by_key[tasks[0].data["row_key"]], by_key[tasks[3].data["row_key"]]
    assert [(s["label"], s["text"]) for s in first["spans"]] == [
        ("DIAGNOSE", D[0]),
        ("MEDICIN", M[0]),
        ("DOSIS", S[0]),
    ]
    assert [s["label"] for s in last["spans"]] == ["DOSIS"]  # DIAGNOSE differed, MEDICIN missing
    assert first["labels"] == ["stabil"] and by_key[tasks[1].data["row_key"]]["labels"] == []
    assert first["text"] == tasks[0].data["text"] and first["annotators"] == 2


def test_manifest_gives_lineage_to_source_and_labelstudio_project(pulled) -> None:
    from datahub.metadata.schema_classes import UpstreamLineageClass

    from catalog import urns
    from catalog.labeling import labeling_mcps, load_manifests

    [manifest] = load_manifests(pulled["result"].manifest.parent)
    assert manifest.source_product == PRODUCT and manifest.counts["rejected"] == 2
    mcps = labeling_mcps([manifest], when=0)
    lineage = {
        m.entityUrn: {u.dataset for u in m.aspect.upstreams}
        for m in mcps
        if isinstance(m.aspect, UpstreamLineageClass)
    }
    source = urns.product_dataset(PRODUCT)
    project = (
        "urn:li:dataset:(urn:li:dataPlatform:labelstudio,"
        "regionlab.clinical_notes.notes.entities,PROD)"
    )
    labelled = urns.product_dataset("labels/clinical_notes__notes__entities")
    assert lineage == {project: {source}, labelled: {source, project}}
    props = next(
        m.aspect.customProperties
        for m in mcps
        if m.entityUrn == labelled and hasattr(m.aspect, "customProperties")
    )
    assert props["kappa.document_class.admin~bo"] == "0.6364"
    assert props["labelstudio_project"] == str(pulled["result"].project_id)
