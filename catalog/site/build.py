"""Build the static catalogue site under ``<var>/catalog/site/``.

The site is a single page (``index.html`` + ``app.js`` + ``style.css``) that
renders from ``data.js``: the catalogue read back from the proposals file
(:mod:`catalog.site.readback`), so it shows what DataHub holds, not what the
specs say. Data and the search index are JavaScript files that set a global,
because browsers refuse ``fetch`` of local JSON from a ``file://`` page; the
site therefore opens from disk as well as from any web server.

Search uses MiniSearch (npm, MIT, no dependencies, ~7k weekly-maintained
releases): the index is built here, at build time, by Node.js with the same
library and options the browser uses, and shipped as ``search-index.js``;
MiniSearch's UMD build is copied from ``catalog/site/node_modules`` (installed
with ``npm ci`` from the committed lock file). Nothing is fetched at view time.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

from catalog.sinks import json_path
from catalog.site.readback import read_catalog
from regionlab.errors import UserError
from regionlab.settings import get_settings

HERE = Path(__file__).resolve().parent
STATIC = HERE / "static"
MINISEARCH = HERE / "node_modules" / "minisearch"
INDEX_SCRIPT = HERE / "build-index.mjs"
STATIC_FILES = ("index.html", "app.js", "style.css")


def site_dir() -> Path:
    return get_settings().catalog_dir / "site"


def _minisearch_js() -> Path:
    js = MINISEARCH / "dist" / "umd" / "index.js"
    if not js.exists():
        raise UserError(
            f"MiniSearch is not installed in {HERE / 'node_modules'}; run "
            f"`npm ci --prefix {HERE}` (or `make catalog`) and build the site again"
        )
    return js


def _node() -> str:
    node = shutil.which("node")
    if node is None:
        raise UserError(
            "Node.js is needed to build the search index; install it (Debian: apt-get install "
            "nodejs npm) and run `npm ci --prefix catalog/site`"
        )
    return node


def _snippet(text: str, limit: int = 160) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rsplit(" ", 1)[0] + " …"


def search_documents(data: dict[str, Any]) -> list[dict[str, Any]]:
    """One search document per product, domain, glossary term and initiative."""
    docs: list[dict[str, Any]] = []
    for p in data["products"]:
        docs.append(
            {
                "id": f"produkt:{p['ref']}",
                "kind": "Dataprodukt",
                "url": f"#/produkt/{p['ref']}",
                "title": p["title"],
                "text": f"{p['ref']} {p['description']} {p['properties'].get('purpose', '')}",
                "columns": " ".join(f"{f['name']} {f['description']}" for f in p["fields"]),
                "tags": " ".join(
                    [*p["keywords"], *{f["classification"] for f in p["fields"]}, *p["terms"]]
                ),
                "owners": " ".join(f"{o['name']} {o['id']}" for o in p["owners"]),
                "terms": " ".join(t for f in p["fields"] for t in f["terms"]),
                "snippet": _snippet(p["description"]),
            }
        )
    for d in data["domains"]:
        docs.append(
            {
                "id": f"domæne:{d['id']}",
                "kind": "Domæne",
                "url": f"#/domaene/{d['id']}",
                "title": d["title"],
                "text": d["description"],
                "owners": " ".join(f"{o['name']} {o['id']}" for o in d["owners"]),
                "snippet": _snippet(d["description"]),
            }
        )
    for node in data["glossary"]:
        for t in node["terms"]:
            docs.append(
                {
                    "id": f"begreb:{t['id']}",
                    "kind": "Begreb",
                    "url": f"#/begreber/{t['id']}",
                    "title": t["name"],
                    "text": t["definition"],
                    "terms": f"{t['id']} {node['name']}",
                    "snippet": _snippet(t["definition"]),
                }
            )
    for i in data["initiatives"]:
        docs.append(
            {
                "id": f"initiativ:{i['id']}",
                "kind": "Initiativ",
                "url": f"#/initiativer/{i['id']}",
                "title": i["name"],
                "text": f"{i['id']} {i['description']} {i['department']} {i['phase']}",
                "tags": f"{i['kind']} {i['ai_act_risk']} {' '.join(i['products'])}",
                "owners": i["owner"],
                "snippet": _snippet(i["description"] or i["department"]),
            }
        )
    return docs


def build_index(docs: list[dict[str, Any]]) -> str:
    """The serialized MiniSearch index, built by Node.js with the vendored library."""
    _minisearch_js()
    proc = subprocess.run(
        [_node(), str(INDEX_SCRIPT)],
        input=json.dumps(docs, ensure_ascii=False),
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=120,
        check=False,
    )
    if proc.returncode != 0:
        raise UserError(
            f"building the search index failed ({proc.stderr.strip()[-300:]}); "
            f"run `npm ci --prefix {HERE}` and try again"
        )
    return proc.stdout


def _js_global(name: str, payload: str) -> str:
    # `</` would end an inline script if anyone ever inlined the file; escape it anyway.
    safe = payload.replace("</", "<\\/")
    return f"window.{name} = {safe};\n"


def _region_info() -> dict[str, Any] | None:
    from regionlab.spec.region import catalog_file, load_region

    if not catalog_file().exists():
        return None
    from catalog.links import CatalogueLinks

    region = load_region()
    links = CatalogueLinks.from_region(region)
    return {
        "publisher": region.publisher.name,
        "hdab": region.hdab.name,
        "hdab_url": str(region.hdab.url),
        "how_to_apply": " ".join(region.access.how_to_apply.split()),
        # The access service's application page when the region runs one (the site then
        # names the product in the link), else the region's own page on applying.
        "application_url": links.access_application() or str(region.access.application_url),
        "application_names_product": links.access_service is not None,
        "access_email": str(region.access.email),
    }


def _copy_model_reports(data: dict[str, Any], out: Path) -> None:
    """Copy each model's HTML validation report beside the site and link it relatively, so
    the board's link works from disk and from the access service's ``/site/`` alike."""
    from urllib.parse import unquote, urlparse

    folder = out / "models"
    for model in data.get("models", []):
        url = model.get("report") or ""
        source = Path(unquote(urlparse(url).path)) if url.startswith("file:") else None
        if source is None or not source.is_file():
            model["report"] = None
            continue
        folder.mkdir(exist_ok=True)
        name = f"{model['name'].split(' ')[0]}.html"
        shutil.copyfile(source, folder / name)
        model["report"] = f"models/{name}"


def build_site(metadata: Path | None = None, out: Path | None = None) -> Path:
    """Build the site from ``metadata`` (default: the emitted metadata.json); return its folder."""
    metadata = metadata or json_path()
    out = out or site_dir()
    region = _region_info()
    data = read_catalog(metadata)
    data["region"] = region
    data["generated_at"] = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    data["source"] = metadata.name
    index = build_index(search_documents(data))

    out.mkdir(parents=True, exist_ok=True)
    (out / "vendor").mkdir(exist_ok=True)
    for name in STATIC_FILES:
        shutil.copyfile(STATIC / name, out / name)
    shutil.copyfile(_minisearch_js(), out / "vendor" / "minisearch.js")
    licence = next(iter(sorted(MINISEARCH.glob("LICENSE*"))), None)
    if licence is not None:
        shutil.copyfile(licence, out / "vendor" / "minisearch.LICENSE.txt")
    _copy_model_reports(data, out)
    (out / "data.js").write_text(
        _js_global("RL_DATA", json.dumps(data, ensure_ascii=False, sort_keys=True)),
        encoding="utf-8",
    )
    options = (STATIC / "search-options.json").read_text(encoding="utf-8")
    (out / "search-index.js").write_text(
        _js_global("RL_SEARCH_OPTIONS", options.strip()) + _js_global("RL_INDEX", index),
        encoding="utf-8",
    )
    # Cache-busting query strings so a browser never mixes an old app.js with new data.
    stamp = re.sub(r"\D", "", data["generated_at"])
    html = (out / "index.html").read_text(encoding="utf-8").replace("{{stamp}}", stamp)
    (out / "index.html").write_text(html, encoding="utf-8")
    return out
