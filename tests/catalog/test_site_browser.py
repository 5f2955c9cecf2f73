"""The catalogue site in a real headless Chromium (Debian's), driven by Playwright.

Screenshots of the overview, a product page and the initiatives board are
written to ``test-artifacts/catalog-site/``; with ``REGIONLAB_UPDATE_SCREENSHOTS=1``
small copies for the README are written to ``docs/img/`` as well.
"""

from __future__ import annotations

import functools
import http.server
import io
import json
import os
import re
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "test-artifacts" / "catalog-site"
DOCS_IMG = REPO / "docs" / "img"
CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PHASES = ["idé", "afprøvning", "implementering", "drift"]
PRODUCT = "research/readmissions_30d"

pytestmark = [pytest.mark.slow]


def test_chromium_is_installed() -> None:
    """A missing browser must fail loudly, not skip: `make test` installs it (system-deps)."""
    assert CHROMIUM.exists(), "needs Debian's chromium: run `make system-deps`"


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield b
        b.close()


@pytest.fixture(scope="module")
def served(demo_site: Path) -> Iterator[str]:
    """The built site behind a plain static web server on 127.0.0.1."""
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(demo_site))
    handler.log_message = lambda *a, **k: None  # type: ignore[attr-defined]
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/index.html"
    server.shutdown()
    server.server_close()


@pytest.fixture
def page(browser):  # type: ignore[no-untyped-def]
    context = browser.new_context(viewport={"width": 1280, "height": 800}, locale="da-DK")
    page = context.new_page()
    page.errors = []  # console errors, page errors and failed requests
    page.on("console", lambda m: m.type == "error" and page.errors.append(m.text))
    page.on("pageerror", lambda e: page.errors.append(str(e)))
    page.on("requestfailed", lambda r: page.errors.append(f"failed: {r.url}"))
    yield page
    context.close()


def _site_data(demo_site: Path) -> dict:
    text = (demo_site / "data.js").read_text(encoding="utf-8")
    match = re.search(r"window\.RL_DATA = (.*?);\n", text, re.S)
    assert match
    return json.loads(match.group(1).replace("<\\/", "</"))


def _column_word(data: dict) -> tuple[str, str]:
    """(word, product title): a word only a column description of that product contains."""

    def words(text: str) -> set[str]:
        return {w.lower() for w in re.findall(r"[A-Za-zÆØÅæøå]{7,}", text)}

    everything_else: dict[str, set[str]] = {}
    for p in data["products"]:
        own = words(f"{p['title']} {p['description']} {' '.join(p['keywords'])}")
        own |= words(" ".join(f["name"] for f in p["fields"]))
        everything_else[p["ref"]] = own
    glossary = words(
        " ".join(f"{t['name']} {t['definition']}" for n in data["glossary"] for t in n["terms"])
    )
    for p in data["products"]:
        others = set().union(*(v for k, v in everything_else.items() if k != p["ref"]))
        for f in p["fields"]:
            for w in sorted(words(f["description"])):
                if w not in everything_else[p["ref"]] and w not in others and w not in glossary:
                    return w, p["title"]
    raise AssertionError("no column-only word in the catalogue")


def _screenshot(page, name: str) -> None:  # type: ignore[no-untyped-def]
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
    small = page.screenshot(full_page=False)
    (ARTIFACTS / f"{name}-small.png").write_bytes(small)
    if os.environ.get("REGIONLAB_UPDATE_SCREENSHOTS") == "1":
        from PIL import Image

        img = Image.open(io.BytesIO(small)).convert("RGB")
        img = img.resize((img.width * 3 // 4, img.height * 3 // 4), Image.LANCZOS)
        img = img.quantize(colors=128, method=Image.Quantize.MEDIANCUT)
        DOCS_IMG.mkdir(parents=True, exist_ok=True)
        target = DOCS_IMG / f"catalog-{name}.png"
        img.save(target, optimize=True)
        assert target.stat().st_size < 200_000, target


def test_search_finds_a_product_by_a_column_description_as_you_type(
    page,
    demo_site: Path,  # type: ignore[no-untyped-def]
) -> None:
    word, title = _column_word(_site_data(demo_site))
    page.goto((demo_site / "index.html").as_uri())
    page.wait_for_selector("h1")
    box = page.locator("#q")
    box.click()
    box.press_sequentially(word[:-1], delay=25)  # not even the whole word, no Enter
    results = page.locator("#results .result")
    results.first.wait_for()
    assert title in results.locator(".title").all_inner_texts(), (word, title)
    results.filter(has_text=title).first.click()
    page.wait_for_selector("table.schema")
    assert page.locator("h1").inner_text() == title
    assert page.errors == []


def test_product_page_shows_owners_classification_quality_and_lineage(
    page,
    demo_site: Path,  # type: ignore[no-untyped-def]
) -> None:
    data = _site_data(demo_site)
    product = next(p for p in data["products"] if p["ref"] == PRODUCT)
    page.goto((demo_site / "index.html").as_uri() + f"#/produkt/{PRODUCT}")
    page.wait_for_selector("#lineage-svg")
    assert page.locator("h1").inner_text() == product["title"]
    owners = page.locator("#owners .owners li")
    assert owners.count() == len(product["owners"])
    assert page.locator('#owners a[href^="mailto:"]').count() >= len(product["owners"])
    classified = [f for f in product["fields"] if f["classification"] != "none"]
    assert classified
    assert page.locator("table.schema .chip.quasi_identifier").count() == sum(
        f["classification"] == "quasi_identifier" for f in product["fields"]
    )
    cats = page.locator(".kahn-cat")
    assert cats.count() == len(
        {c["category"] for c in product["checks"]} & {"conformance", "completeness", "plausibility"}
    )
    assert page.locator(".kahn-cat svg.trend circle.dot").count() >= cats.count()
    # The lineage graph is drawn: boxes for the product, its upstream and the source extract,
    # connected by edges; column-level edges light up when a column is hovered.
    svg = page.locator("#lineage-svg")
    assert svg.locator("g.lineage-node").count() >= 3
    assert svg.locator("g.lineage-node.focus").count() == 1
    edges = svg.locator("path.lineage-edge")
    assert edges.count() >= 2
    assert all(d and d.startswith("M") for d in (e.get_attribute("d") for e in edges.all()))
    box = svg.bounding_box()
    assert box and box["width"] > 400 and box["height"] > 60
    col = svg.locator('text.col[data-node="focus"][data-col="days_between"]')
    col.hover()
    lit = svg.locator('path.col-edge.on[data-col="days_between"]')
    assert lit.count() >= 1
    _screenshot(page, "product")
    assert page.errors == []


@pytest.fixture(scope="module")
def fixture_site(site_tools, registry, facts, tmp_path_factory) -> Path:  # type: ignore[no-untyped-def]
    """A site of the fixture specs with retention and erasure facts injected for persons."""
    from catalog_testdata import with_erasure_facts

    from catalog.emit import build_mcps
    from catalog.sinks import write_json
    from catalog.site.build import build_site

    folder = tmp_path_factory.mktemp("fixture-site")
    metadata = write_json(build_mcps(registry, with_erasure_facts(facts)), folder / "metadata.json")
    return build_site(metadata, folder / "site")


def test_product_page_shows_retention_and_erasure_counts(page, fixture_site: Path) -> None:  # type: ignore[no-untyped-def]
    page.goto(fixture_site.joinpath("index.html").as_uri() + "#/produkt/population/persons")
    page.wait_for_selector("#erasure")
    fact = page.locator("#erasure")
    assert fact.locator('[data-k="erasures-applied"]').inner_text() == "3"
    assert fact.locator('[data-k="erasures-touching"]').inner_text() == "2"
    assert fact.locator('[data-k="retention-rows"]').inner_text() == "17"
    assert "2025" in fact.locator('[data-k="retention-last-run"]').inner_text()
    # a product without facts has no such section
    page.goto(fixture_site.joinpath("index.html").as_uri() + "#/produkt/research/readmissions_30d")
    page.wait_for_selector("table.schema")
    assert page.locator("#erasure").count() == 0
    assert page.errors == []


def test_product_page_shows_owner_names_and_code_systems(page, fixture_site: Path) -> None:  # type: ignore[no-untyped-def]
    page.goto(fixture_site.joinpath("index.html").as_uri() + "#/produkt/population/persons")
    page.wait_for_selector("table.schema")
    owners = page.locator("#owners .owners").inner_text()
    assert "Mette Kjær Jensen" in owners and "mette.kjaer.jensen@rsyd.dk" in owners
    row = page.locator('table.schema tr[data-col="municipality_code"]')
    assert row.locator(".chip.code").inner_text() == "Kommunekoder"
    assert page.locator("table.schema .chip.code").count() == 1  # only that column is coded
    assert page.errors == []


def test_product_page_shows_whether_the_product_is_k_anonymous(page, fixture_site: Path) -> None:  # type: ignore[no-untyped-def]
    page.goto(fixture_site.joinpath("index.html").as_uri() + "#/produkt/population/persons")
    page.wait_for_selector("#k-anonymity")
    persons = page.locator("#k-anonymity").inner_text()
    assert "Ikke k-anonymt" in persons and "kun under en tilladelse" in persons
    assert "residence_municipality, municipality_code" in persons  # every quasi-identifier
    page.goto(
        fixture_site.joinpath("index.html").as_uri() + "#/produkt/patient_administration/contacts"
    )
    page.wait_for_selector("#k-anonymity")
    contacts = page.locator("#k-anonymity").inner_text()
    assert "k ≥ 5" in contacts and "Ikke k-anonymt" not in contacts
    assert page.errors == []


def test_product_page_shows_the_ehds_quality_label(
    page, fixture_site: Path, registry, facts
) -> None:  # type: ignore[no-untyped-def]
    """The EHDS label (art. 78) with its level, score and every element, in Danish."""
    from catalog.quality_label import quality_label

    label = quality_label(registry.products["population/persons"], registry, facts)
    page.goto(fixture_site.joinpath("index.html").as_uri() + "#/produkt/population/persons")
    page.wait_for_selector("#quality-label")
    panel = page.locator("#quality-label")
    assert "EHDS-kvalitetsmærke" in panel.locator("h3").inner_text()
    assert panel.locator(".chip").inner_text() == label.level_title
    assert panel.locator('[data-k="label-score"]').inner_text() == str(label.score)
    rows = panel.locator("tr[data-element]")
    assert rows.count() == len(label.elements)
    tech = panel.locator('[data-k="label-technical_quality"]').inner_text()
    assert tech == str(round(label.element("technical_quality").score * 100))
    dims = panel.locator('[data-k="label-dimensions"]').inner_text()
    assert "validitet 50 %" in dims and "fuldstændighed ikke målt" in dims
    assert "Dokumentation" in panel.inner_text() and "Dækning" in panel.inner_text()
    assert page.errors == []


def test_initiatives_board_shows_every_phase(page, demo_site: Path) -> None:  # type: ignore[no-untyped-def]
    data = _site_data(demo_site)
    page.goto((demo_site / "index.html").as_uri() + "#/initiativer")
    page.wait_for_selector(".board")
    phases = page.locator(".board .phase")
    assert [phases.nth(i).get_attribute("data-phase") for i in range(phases.count())] == PHASES
    for phase in PHASES:
        expected = sum(i["phase"] == phase for i in data["initiatives"])
        assert page.locator(f'.phase[data-phase="{phase}"] article.ini').count() == expected
    cards = page.locator("article.ini")
    assert cards.count() == len(data["initiatives"])
    first = data["initiatives"][0]
    card = page.locator(f"#ini-{first['id']}")
    assert first["department"] in card.inner_text() and "AI Act" in card.inner_text()
    _screenshot(page, "board")
    assert page.errors == []


def test_overview_over_a_web_server(page, served: str) -> None:  # type: ignore[no-untyped-def]
    page.goto(served)
    page.wait_for_selector(".stats")
    assert page.locator("h1").inner_text() == "Regionens datakatalog"
    assert page.locator(".grid.cards .card").count() >= 8
    page.locator(".nav a", has_text="Begreber").click()
    page.wait_for_selector(".term")
    assert page.locator(".term").count() > 10
    page.locator(".nav a", has_text="Oversigt").click()
    page.wait_for_selector(".stats")
    _screenshot(page, "overview")
    assert page.errors == []


def test_no_requests_leave_the_site(browser, demo_site: Path) -> None:  # type: ignore[no-untyped-def]
    """Nothing is fetched from the internet at view time."""
    context = browser.new_context()
    outside: list[str] = []
    context.route(
        re.compile(r"^https?://"), lambda route: (outside.append(route.request.url), route.abort())
    )
    page = context.new_page()
    for hash_ in ("", f"#/produkt/{PRODUCT}", "#/initiativer", "#/begreber", "#/domaene/research"):
        page.goto((demo_site / "index.html").as_uri() + hash_)
        page.wait_for_selector("h1")
    context.close()
    assert outside == []


def test_a_failing_warning_rule_reads_as_a_warning_on_the_front_page(
    page, demo_site: Path, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    """A failing warning rule (an injected defect) reads as a warning, never as "fejlet".

    Whether the small demo draws a defect a warning rule catches depends on the random
    stream, so where it has none the site is copied and one warning rule is marked failed.
    """
    data = _site_data(demo_site)
    checks = [c for p in data["products"] for c in p["checks"]]
    assert not [c for c in checks if c["result"] == "FAILURE" and c["severity"] == "blocking"]
    site = demo_site
    if not any(c["result"] == "FAILURE" for c in checks):
        warning = next(c for c in checks if c["severity"] == "warning")
        warning.update(result="FAILURE", unexpected=1)
        site = tmp_path / "site"
        shutil.copytree(demo_site, site)
        text = "window.RL_DATA = " + json.dumps(data).replace("</", "<\\/") + ";\n"
        (site / "data.js").write_text(text, encoding="utf-8")
    page.goto((site / "index.html").as_uri())
    section = page.locator("section", has=page.locator("h2", has_text="Afvigende kvalitetsregler"))
    chips = section.locator(".chip").all_inner_texts()
    assert chips and set(chips) == {"advarsel"}, chips
