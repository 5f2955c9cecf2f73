"""A model's validation test set through the real Label Studio: draw → push → annotate → validate.

The lake holds 400 hand-made notes of two strata (360 women 50-59, 40 men 80-89).
``labeling push --test-set note_entities`` must import exactly the card's stratified,
seeded draw, give its overlap tasks two annotators through Label Studio's own
per-task ``overlap`` (kept when a later push makes Label Studio re-deal its cohort),
and the validation report must use only the test set as ground truth and state its
draw and the annotators' agreement (known by construction, see ``annotated``).
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import polars as pl
import pytest

from labeling import server as ls
from labeling.push import find_project, push
from regionlab import lake
from regionlab.aimodels.testsets import TEST_SET_FILE, draw

pytestmark = pytest.mark.slow

PRODUCT, TASK, MODEL = "clinical_notes/notes", "entities", "note_entities"
TITLE = "clinical_notes/notes:entities"
N_K, N_M = 360, 40
BODY = (
    "Kendt med Type 2-diabetes uden komplikationer. Behandles med Metformin 500 mg "
    "morgen og aften. Almentilstand upåvirket."
)


@pytest.fixture(scope="module")
def env(ls_server: ls.LabelStudioServer, ls_var: Path):
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("REGIONLAB_VAR", str(ls_var))
        sdk = ls.client(ls_server)
        old = find_project(sdk, TITLE)  # the round-trip module's project: start afresh
        if old is not None:
            sdk.projects.delete(id=old.id)
        n = N_K + N_M
        keys = [f"T{i:04d}" for i in range(n)]
        notes = pl.DataFrame(
            {
                "note_id": keys,
                "person_key": [f"pk{i}" for i in range(n)],
                "contact_id": [f"C{i}" for i in range(n)],
                "note_type": ["ambulant notat"] * n,
                "written_at": [
                    dt.datetime(2024, 3, 1, 9) + dt.timedelta(hours=i) for i in range(n)
                ],
                "author_role": ["overlæge"] * n,
                "text": [f"Notat {i}. {BODY}" for i in range(n)],
            }
        )
        persons = pl.DataFrame(
            {
                "person_key": [f"pk{i}" for i in range(n)],
                "sex": ["K" if i < N_K else "M" for i in range(n)],
                "age_band": ["50-59" if i < N_K else "80-89" for i in range(n)],
            }
        )
        con = lake.connect()
        lake.publish(con, "population", "persons", con.from_arrow(persons.to_arrow()))
        lake.publish(con, "clinical_notes", "notes", con.from_arrow(notes.to_arrow()))
        con.close()
        strata = {k: ("K|50-59" if i < N_K else "M|80-89") for i, k in enumerate(keys)}
        yield {"sdk": sdk, "url": ls_server.url, "strata": strata, "var": ls_var}


def _tasks(sdk, project_id: int) -> dict[str, object]:
    return {t.data["row_key"]: t for t in sdk.tasks.list(project=project_id, fields="all")}


@pytest.fixture(scope="module")
def pushed(env):
    return push(PRODUCT, TASK, sdk=env["sdk"], base_url=env["url"], test_set=MODEL)


def test_push_imports_the_card_s_stratified_draw(env, pushed) -> None:
    expected = draw(env["strata"], 100, seed=2024, overlap=0.2, min_per_stratum=5)
    assert expected.per_stratum == {"K|50-59": 90, "M|80-89": 10}
    tasks = _tasks(env["sdk"], pushed.project_id)
    assert set(tasks) == set(expected.keys) and pushed.created == 100
    for key, task in tasks.items():
        assert set(task.data) == {"text", "row_key", "snapshot_id"}
        assert task.meta["test_set"] == MODEL
        assert (task.meta.get("overlap") == 2) == (key in expected.overlap)
    saved = json.loads((env["var"] / "models" / MODEL / TEST_SET_FILE).read_text())
    assert saved["keys"] == expected.keys and set(saved["overlap_keys"]) == expected.overlap
    assert saved["strata"] == ["sex", "age_band"] and saved["spec"]["seed"] == 2024


def test_overlap_tasks_go_to_two_annotators_and_survive_a_later_push(env, pushed) -> None:
    overlap = set(json.loads((env["var"] / "models" / MODEL / TEST_SET_FILE).read_text())
                  ["overlap_keys"])  # fmt: skip
    assert len(overlap) == 20  # 18 of 90 women, 2 of 10 men
    tasks = _tasks(env["sdk"], pushed.project_id)
    assert all(tasks[k].overlap == 2 for k in overlap)
    again = push(PRODUCT, TASK, sdk=env["sdk"], base_url=env["url"], test_set=MODEL)
    assert again.created == 0 and again.existing == 100
    # a plain push imports new tasks: Label Studio re-deals its 20 % cohort at random
    plain = push(PRODUCT, TASK, sdk=env["sdk"], base_url=env["url"], limit=30)
    assert plain.created > 0
    tasks = _tasks(env["sdk"], pushed.project_id)
    assert all(tasks[k].overlap == 2 for k in overlap), "test-set overlap lost on import"
    assert plain.overlap_tasks >= 20


def _span(text: str, phrase: str, label: str) -> dict:
    start = text.index(phrase)
    return {"id": f"{label}{start}", "from_name": "entities", "to_name": "text",
            "type": "labels", "value": {"start": start, "end": start + len(phrase),
                                        "text": phrase, "labels": [label]}}  # fmt: skip


CHOICE = {"id": "c", "from_name": "document_class", "to_name": "text", "type": "choices",
          "value": {"choices": ["stabil"]}}  # fmt: skip
D, M, S = ("Type 2-diabetes uden komplikationer", "DIAGNOSE"), ("Metformin", "MEDICIN"), (
    "500 mg", "DOSIS")  # fmt: skip


@pytest.fixture(scope="module")
def annotated(env, pushed):
    """Admin labels the 20 overlap tasks and 30 more test-set tasks with D, M, S; a second
    annotator labels the 20 overlap tasks with D and S, and M on 10 of them:
    DIAGNOSE 1, DOSIS 1, MEDICIN 2·10/(20+10) = 2/3, all 2·50/(60+50) = 10/11.
    One task outside the test set is labelled too and must not be used."""
    from labeling import entity_model
    from labeling.pull import pull

    sdk = env["sdk"]
    saved = json.loads((env["var"] / "models" / MODEL / TEST_SET_FILE).read_text())
    overlap, keys = sorted(saved["overlap_keys"]), saved["keys"]
    single = [k for k in keys if k not in set(overlap)][:30]
    tasks = _tasks(sdk, pushed.project_id)
    outside = next(k for k in tasks if k not in set(keys))
    admin = sdk.users.whoami().id
    second = sdk.users.create(username="tsb", email="tsb@regionlab.local",
                              password="Tsb-annot-2024!x")  # fmt: skip
    for i, key in enumerate(overlap + single + [outside]):
        task = tasks[key]
        text = task.data["text"]
        full = [_span(text, *D), _span(text, *M), _span(text, *S), CHOICE]
        sdk.annotations.create(task.id, result=full, completed_by=admin, lead_time=10.0)
        if key in set(overlap):
            b = [_span(text, *D), _span(text, *S), CHOICE] + ([_span(text, *M)] if i < 10 else [])
            sdk.annotations.create(task.id, result=b, completed_by=second.id, lead_time=12.0)
    pull(PRODUCT, TASK, sdk=sdk, base_url=env["url"])
    entity_model.score(MODEL)
    from regionlab.aimodels.runner import validate

    return validate(MODEL, rounds=20, record=False)


def test_the_report_uses_the_test_set_and_states_its_draw_and_agreement(annotated) -> None:
    report = annotated.report
    ts = report["test_set"]
    assert ts["seed"] == 2024 and ts["strata"] == ["sex", "age_band"]
    assert ts["drawn"] == 100 and ts["overlap_documents"] == 20 and ts["annotators"] == 2
    assert ts["per_stratum"] == {"K|50-59": 90, "M|80-89": 10}
    assert ts["labelled_and_used"] == 50 and report["documents"] == 50  # not the 51st
    agreement = report["agreement"]
    assert agreement["documents_with_overlap"] == 20 and agreement["annotator_pairs"] == 1
    f1 = agreement["exact_span_f1"]
    assert f1["DIAGNOSE"] == 1.0 and f1["DOSIS"] == 1.0
    assert f1["MEDICIN"] == pytest.approx(2 / 3) and f1["all"] == pytest.approx(10 / 11)
    html = annotated.html_path.read_text(encoding="utf-8")
    assert "Testsæt" in html and "seed 2024" in html and "Referencens enighed" in html
    assert "<td>MEDICIN</td><td>0.667</td>" in html
