"""The catalogue site served by the access service, and its Danish feasibility form.

The browser tests drive Debian's Chromium (as tests/catalog/test_site_browser.py
does) against a live ``regionlab serve`` on the hand-built population lake: the
form asks ``POST /feasibility`` with the token pasted into it, and the page
shows what the service displayed, nothing it computed itself.
"""

from __future__ import annotations

import shutil
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from regionlab.research.audit_store import FEASIBILITY, open_store
from service.roles import Role
from service.site import BUILD_HINT, CSP
from service.tokens import TokenStore
from tests.catalog.test_site_browser import ARGS, CHROMIUM
from tests.service.conftest import client_for
from tests.service.live import start_server, stop_server

PRODUCT = "population/persons"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "catalog-site"
EXACT = "[disclosure]\nenabled = false\n"


@pytest.fixture(scope="module")
def built_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The site of the catalogue tests' fixture specs (built once, copied into each var/)."""
    from catalog.emit import build_mcps
    from catalog.sinks import write_json
    from catalog.site.build import build_site
    from tests.catalog.catalog_testdata import fixed_facts, fixture_registry

    folder = tmp_path_factory.mktemp("served-site")
    metadata = write_json(build_mcps(fixture_registry(), fixed_facts()), folder / "metadata.json")
    return build_site(metadata, folder / "site")


@pytest.fixture
def site(var_dir: Path, built_site: Path) -> Path:
    """The built site where the service looks for it: ``<var>/catalog/site``."""
    return Path(shutil.copytree(built_site, var_dir / "catalog" / "site"))


def test_the_service_serves_the_built_site_without_a_token(site: Path, store: TokenStore) -> None:
    client = client_for(store)
    response = client.get("/site/")
    assert response.status_code == 200
    assert response.text == (site / "index.html").read_text(encoding="utf-8")
    assert response.headers["content-security-policy"] == CSP
    assert client.get("/site/data.js").text.startswith("window.RL_DATA = ")
    assert client.get("/site/app.js").status_code == 200
    bare = client.get("/site", follow_redirects=False)
    assert bare.status_code in (307, 308) and bare.headers["location"].endswith("/site/")
    assert client.get("/site/../service/identities.sqlite").status_code == 404
    # the site is not an API endpoint: it is neither in the OpenAPI description nor the matrix
    assert not any(p.startswith("/site") for p in client.get("/openapi.json").json()["paths"])


def test_without_a_built_site_the_mount_answers_404_with_a_hint(
    var_dir: Path, store: TokenStore
) -> None:
    client = client_for(store)
    response = client.get("/site/")
    assert response.status_code == 404
    assert response.json() == {"detail": BUILD_HINT}
    assert client.get("/health").status_code == 200


# --- In Chromium --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    assert CHROMIUM.exists(), "needs Debian's chromium: run `make system-deps`"
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser):  # type: ignore[no-untyped-def]
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="da-DK")
    page = context.new_page()
    page.errors = []
    page.on("console", lambda m: m.type == "error" and page.errors.append(m.text))
    page.on("pageerror", lambda e: page.errors.append(str(e)))
    page.on("requestfailed", lambda r: page.errors.append(f"failed: {r.url}"))
    yield page
    context.close()


@pytest.fixture
def served(
    var_dir: Path,
    site: Path,
    population: list[dict[str, object]],
    tokens: dict[Role, str],
) -> Iterator[str]:
    """A live service (exact counts: the differencing defence is off in its own settings)
    serving the population lake, the tokens and the site of this test's var/."""
    (var_dir / "service").mkdir(parents=True, exist_ok=True)
    (var_dir / "service" / "settings.toml").write_text(EXACT, encoding="utf-8")
    proc, url = start_server(var_dir)
    try:
        yield url
    finally:
        stop_server(proc)


def _screenshot(page) -> None:  # type: ignore[no-untyped-def]
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.locator("#feasibility").screenshot(path=str(ARTIFACTS / "feasibility-form.png"))


def _ask(page, url: str, token: str, *, by: tuple[str, ...] = ()) -> None:  # type: ignore[no-untyped-def]
    page.goto(f"{url}/site/#/produkt/{PRODUCT}")
    page.wait_for_selector("#fz-form")
    page.fill("#fz-token", token)
    page.fill("#fz-diagnosis", "DE11")
    for dimension in by:
        page.check(f'input[name="fz-by"][value="{dimension}"]')
    page.click("#fz-submit")


@pytest.mark.slow
def test_a_researcher_gets_counts_with_small_cells_hidden(  # type: ignore[no-untyped-def]
    page, served: str, population: list[dict[str, object]], tokens: dict[Role, str]
) -> None:
    with page.expect_response(f"{served}/feasibility") as response:
        _ask(page, served, tokens[Role.researcher], by=("sex", "municipality"))
    page.wait_for_selector("#fz-result:not([hidden])")
    _screenshot(page)
    result = page.locator("#fz-result")
    assert result.locator('[data-k="fz-total"]').inner_text() == str(len(population))
    assert result.locator('[data-k="fz-threshold"]').inner_text() == "5"
    shown = {
        row.get_attribute("data-key"): row.locator('[data-k="fz-cell"]').inner_text()
        for row in result.locator("tr[data-key]").all()
    }
    expected = Counter(f"{p['sex']}|{p['municipality']}" for p in population)
    small = {key for key, n in expected.items() if 1 <= n < 5}
    assert small, "the lake must have a small cell for this test to mean anything"
    for key in small:
        assert shown[key] == "<5", key
    # what reached the browser holds the marker, not the count: nothing to reveal or compute
    sent = {"|".join(c["key"]): c["display"] for c in response.value.json()["cells"]}
    assert all(sent[key] == "<5" for key in small)
    assert "primary" not in response.value.text() and "secondary" not in response.value.text()
    for key, n in expected.items():
        assert shown[key] in {"<5", str(n)}, key  # hidden (primary or secondary) or exact
    assert shown["Total|Total"] == str(len(population))
    assert result.locator("th").all_text_contents() == ["Køn", "Kommune", "Personer"]
    # the audit entry the page names is the service's, under the token's name
    (entry,) = open_store().entries(action=FEASIBILITY)
    assert result.locator('[data-k="fz-audit"]').inner_text() == entry.id
    assert entry.user == "anna"
    # the token lives in this tab's sessionStorage only
    assert page.evaluate("sessionStorage.getItem('regionlab.token')") == tokens[Role.researcher]
    assert page.evaluate("localStorage.length") == 0
    assert page.context.cookies() == []
    assert page.errors == []


@pytest.mark.slow
def test_a_wrong_token_and_a_steward_get_danish_messages(  # type: ignore[no-untyped-def]
    page, served: str, tokens: dict[Role, str]
) -> None:
    _ask(page, served, "not-a-token")
    error = page.locator("#fz-error")
    error.wait_for()
    assert "Nøglen blev ikke godkendt (401)" in error.inner_text()
    page.fill("#fz-token", tokens[Role.steward])
    page.click("#fz-submit")
    page.locator("#fz-error", has_text="(403)").wait_for()
    text = error.inner_text()
    assert "Din rolle må ikke spørge om antal personer (403)" in text
    assert "forskernøgle" in text
    assert page.locator("#fz-result").is_hidden()
    # a researcher's cohort the service cannot read: 422, its reason, and what to do
    page.fill("#fz-token", tokens[Role.researcher])
    page.fill("#fz-municipality", "Atlantis")
    page.click("#fz-submit")
    page.locator("#fz-error", has_text="(422)").wait_for()
    text = error.inner_text()
    assert "Adgangstjenesten afviste forespørgslen (422)" in text
    assert "unknown municipality 'Atlantis'" in text and "Ret kohorten" in text
    assert open_store().entries(action=FEASIBILITY) == []
    # the browser logs the refused requests themselves; nothing else went wrong
    refused = ("status of 401", "status of 403", "status of 422")
    assert [e for e in page.errors if not any(r in e for r in refused)] == []


@pytest.mark.slow
def test_opened_from_disk_the_form_is_replaced_by_a_note(page, site: Path) -> None:  # type: ignore[no-untyped-def]
    page.goto((site / "index.html").as_uri() + f"#/produkt/{PRODUCT}")
    page.wait_for_selector("#feasibility-note")
    assert "kræver regionens adgangstjeneste" in page.locator("#feasibility-note").inner_text()
    assert page.locator("#fz-form").count() == 0
    assert page.errors == []
