"""The researcher notebooks run top to bottom on demo data built by the real pipeline."""

from __future__ import annotations

import datetime as dt
import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import nbformat
import pytest

from service.roles import Role
from service.tokens import TokenStore
from tests.service.live import start_server, stop_server

REPO = Path(__file__).resolve().parents[2]
NOTEBOOKS = REPO / "notebooks"
NAMES = [
    "01_find_data_and_feasibility.ipynb",
    "02_workspace_analysis.ipynb",
    "03_quality_and_freshness.ipynb",
]
#: What the notebooks read; a failed publish of anything else does not matter to them.
NEEDED = {
    "population/persons",
    "diagnoses/diagnoses",
    "laboratory/lab_results",
    "medication/prescriptions",
}
PROJECT = "t2d-hba1c"
RESEARCHER = "notebook-test"
#: Size of the demo region; the override exists to try other sizes by hand.
PERSONS = int(os.environ.get("REGIONLAB_NOTEBOOK_PERSONS", "3000"))


def test_notebooks_are_stored_without_outputs() -> None:
    assert sorted(p.name for p in NOTEBOOKS.glob("*.ipynb")) == NAMES
    for name in NAMES:
        book = nbformat.read(NOTEBOOKS / name, as_version=4)
        nbformat.validate(book)
        assert book.metadata["kernelspec"]["name"] == "python3"
        for cell in book.cells:
            if cell.cell_type == "code":
                assert cell.outputs == [] and cell.execution_count is None, name


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Synthetic sources run through the pipeline engine into a fresh lake, plus a workspace."""
    from regionlab.privacy.keys import init_key
    from regionlab.research import permit_workflow as wf
    from regionlab.research.permits import load_permit
    from regionlab.research.workspace import build_workspace
    from regionlab.settings import get_settings
    from regionlab.spec import load_domains
    from regionlab.synth.generate import generate
    from regionlab.wap.engine import run_derived_product, run_source_product

    var = tmp_path_factory.mktemp("demo") / "var"
    var.mkdir()
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("REGIONLAB_VAR", str(var))
        for name in ("REGIONLAB_KEY", "REGIONLAB_LAKE_CATALOG", "REGIONLAB_LAKE_DATA"):
            mp.delenv(name, raising=False)
        key_file = var / "secrets" / "pseudonym.key"
        init_key(key_file)
        mp.setenv("REGIONLAB_KEY_FILE", str(key_file))
        mp.setenv("DAGSTER_HOME", str(var / "dagster"))
        mp.setenv("MPLBACKEND", "Agg")
        settings = get_settings()
        generate(
            out=settings.sources_dir,
            persons=PERSONS,
            seed=7,
            defect_rate=0.0,
            as_of=dt.date(2026, 11, 1),
            deliveries=1,
        )
        failed: dict[str, list[str]] = {}
        for product in load_domains().batch_order():
            if any(up in failed for up in product.upstream):
                failed[product.ref] = ["upstream not published"]
                continue
            run = (
                run_derived_product(product, settings)
                if product.is_derived
                else run_source_product(product, settings)
            )
            if run.status != "published":
                failed[product.ref] = [c.check for c in run.blocking_failures]
        missing = {ref: checks for ref, checks in failed.items() if ref in NEEDED}
        assert not missing, f"the pipeline did not publish what the notebooks need: {missing}"
        # The researcher applies and an access officer approves: the airlock releases
        # the project's outputs to the permit holder only.
        wf.apply(
            wf.Actor(RESEARCHER, "researcher"), load_permit(REPO / "permits" / f"{PROJECT}.yaml")
        )
        wf.approve(wf.Actor("officer", "access-officer"), PROJECT)
        build_workspace(PROJECT)
        # The notebooks count through the access service, as a researcher with a token.
        token = TokenStore(settings.service_dir / "identities.sqlite").issue(
            RESEARCHER, Role.researcher
        )
        server, url = start_server(var)
        mp.setenv("REGIONLAB_SERVICE_URL", url)
        mp.setenv("REGIONLAB_TOKEN", token)
        try:
            yield var
        finally:
            stop_server(server)
            shutil.rmtree(var / "research" / "workspaces" / PROJECT / "outputs", ignore_errors=True)


def _run(name: str, var: Path) -> nbformat.NotebookNode:
    from nbclient import NotebookClient

    book = nbformat.read(NOTEBOOKS / name, as_version=4)
    env = {
        "REGIONLAB_VAR": str(var),
        "REGIONLAB_KEY_FILE": str(var / "secrets" / "pseudonym.key"),
        "REGIONLAB_USER": "someone-else",  # no longer names anyone: the token does
        "REGIONLAB_MIN_CELL": "1",  # no longer lowers anything: the service's floor does
        "REGIONLAB_SERVICE_URL": os.environ["REGIONLAB_SERVICE_URL"],
        "REGIONLAB_TOKEN": os.environ["REGIONLAB_TOKEN"],
        "REGIONLAB_PROJECT": PROJECT,
        "MPLBACKEND": "module://matplotlib_inline.backend_inline",
    }
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)  # the kernel inherits this process's environment
    try:
        client = NotebookClient(
            book,
            timeout=300,
            kernel_name="python3",
            resources={"metadata": {"path": str(NOTEBOOKS)}},
        )
        client.execute()
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    return book


def _text(book: nbformat.NotebookNode) -> str:
    parts = []
    for cell in book.cells:
        for out in cell.get("outputs", []):
            parts.append(out.get("text", ""))
            parts.append(out.get("data", {}).get("text/plain", ""))
    return "\n".join(parts)


def _images(book: nbformat.NotebookNode) -> int:
    return sum(
        "image/png" in out.get("data", {}) for cell in book.cells for out in cell.get("outputs", [])
    )


@pytest.mark.slow
def test_find_data_and_feasibility_notebook(demo: Path) -> None:
    from regionlab.research.audit_store import FEASIBILITY, open_store

    started = time.perf_counter()
    book = _run(NAMES[0], demo)
    text = _text(book)
    assert "t2d_vejle:" in text and "personer (snapshot" in text
    assert "laboratory/lab_results" in text
    assert "lower bound" in text  # the age-band note reaches the researcher
    entries = open_store().entries(action=FEASIBILITY)
    assert len(entries) == 3  # t2d_vejle twice, then t2d_metformin
    definitions = [e.data["definition"] for e in entries]
    assert definitions[0] == definitions[1] != definitions[2]
    assert {e.user for e in entries} == {RESEARCHER}  # the token's, not REGIONLAB_USER
    assert {e.data["threshold"] for e in entries} == {5}  # REGIONLAB_MIN_CELL=1 changed nothing
    assert time.perf_counter() - started < 300


@pytest.mark.slow
def test_workspace_analysis_notebook(demo: Path) -> None:
    book = _run(NAMES[1], demo)
    text = _text(book)
    assert f"projekt {PROJECT}" in text
    assert "metformin" in text
    assert _images(book) == 1  # the HbA1c plot
    assert "OK - no small cells" in text  # the pooled table passes the output check
    assert "hba1c_by_treatment.csv: fail -> pending" in text  # small cells: queued
    assert "hba1c_pooled.csv: pass -> released" in text  # safe by class: released at once
    outputs = demo / "research" / "workspaces" / PROJECT / "outputs"
    assert (outputs / "hba1c_pooled.csv").is_file()
    released = outputs / "released" / "hba1c_pooled.csv"
    assert released.read_text("utf-8").splitlines()[0] == "behandling,n,mean_hba1c"
    assert (outputs / "released" / "hba1c_pooled.csv.manifest.json").is_file()


@pytest.mark.slow
def test_quality_and_freshness_notebook(demo: Path) -> None:
    book = _run(NAMES[2], demo)
    text = _text(book)
    assert "medication/prescriptions" in text
    assert "rækker nu" in text and "nyeste_udtraek" in text and "frisk" in text
    assert "ingen load log" not in text and "ingen kvalitetshistorik" not in text
    assert _images(book) == 1  # checks per product and status
    assert f"arbejdsområdet {PROJECT} er bygget på snapshot" in text
    assert "ingen resultater indsendt endnu" in text or "hba1c_pooled.csv: released" in text
