"""Read the catalogue back from DataHub's file-sink format into plain dictionaries for the site.

The site must show what the catalogue really holds, so it reads the
proposals file ``metadata.json`` that ``regionlab catalog emit`` wrote (the
same proposals that went into DataHub Lite and, in production, DataHub REST)
and never the specs. The file is a JSON list of UPSERTs; for plain aspects
the last one wins (as in DataHub), time-series aspects (assertion and
process run events) are kept as a history.

Everything here is JSON-ready (str/int/float/list/dict) because it is
written verbatim into the site's ``data.js``.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import defaultdict
from pathlib import Path
from typing import Any

from catalog import urns
from regionlab.errors import UserError

_TIMESERIES = {"assertionRunEvent", "dataProcessInstanceRunEvent"}
_CLASS_TAG = "urn:li:tag:classification:"
_CODE_TAG = "urn:li:tag:code_system:"
_OWNER_ROLES = {
    "DATA_STEWARD": "Dataansvarlig (steward)",
    "TECHNICAL_OWNER": "Teknisk ejer",
    "BUSINESS_OWNER": "Forretningsejer",
}


class Entities:
    """Current aspects per entity URN, plus time-series events in emission order."""

    def __init__(self, proposals: list[dict[str, Any]]) -> None:
        self.aspects: dict[str, dict[str, Any]] = defaultdict(dict)
        self.kinds: dict[str, str] = {}
        self.events: dict[str, list[dict[str, Any]]] = defaultdict(list)
        #: Entities marked ``Status(removed=True)``: gone from the specs, not shown.
        self.removed: set[str] = set()
        for mcp in proposals:
            urn, name = mcp.get("entityUrn"), mcp.get("aspectName")
            aspect = (mcp.get("aspect") or {}).get("json")
            if not urn or not name or aspect is None:
                continue
            self.kinds[urn] = mcp.get("entityType", "")
            if name in _TIMESERIES:
                self.events[urn].append(aspect)
            self.aspects[urn][name] = aspect
        self.removed = {
            u for u, a in self.aspects.items() if (a.get("status") or {}).get("removed")
        }

    def of_kind(self, kind: str) -> list[str]:
        return sorted(u for u, k in self.kinds.items() if k == kind and u not in self.removed)

    def get(self, urn: str, aspect: str) -> dict[str, Any]:
        return self.aspects.get(urn, {}).get(aspect) or {}


def read_proposals(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        raise UserError(f"no catalogue metadata at {path}; run `regionlab catalog emit` first")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise UserError(
            f"{path} is not valid JSON (line {exc.lineno}); run `regionlab catalog emit` again"
        ) from exc
    if not isinstance(data, list):
        raise UserError(f"{path}: expected a JSON list of proposals; run `regionlab catalog emit`")
    return data


def _iso(millis: int | None) -> str | None:
    if millis is None:
        return None
    return dt.datetime.fromtimestamp(millis / 1000, tz=dt.UTC).isoformat(timespec="seconds")


def _user_id(urn: str) -> str:
    return urn.removeprefix("urn:li:corpuser:")


def person(ent: Entities, urn: str) -> dict[str, Any]:
    """Name and e-mail of a corpuser as the catalogue holds them (``corpUserInfo``).

    Nothing is guessed from the user id: a user without info shows its id and
    no e-mail, which makes a missing ``corpUserInfo`` visible instead of
    papering over it with a made-up name or address.
    """
    info = ent.get(urn, "corpUserInfo")
    uid = _user_id(urn)
    return {
        "id": uid,
        "name": info.get("displayName") or info.get("fullName") or uid,
        "email": info.get("email") or None,
    }


def owners(ent: Entities, urn: str) -> list[dict[str, Any]]:
    out = []
    for owner in ent.get(urn, "ownership").get("owners", []):
        entry = person(ent, owner["owner"])
        entry["role"] = owner.get("type", "")
        entry["role_label"] = _OWNER_ROLES.get(entry["role"], entry["role"].title())
        out.append(entry)
    return out


def _term_id(urn: str) -> str:
    return urn.removeprefix("urn:li:glossaryTerm:")


def _field_column(field_urn: str) -> tuple[str, str]:
    """``urn:li:schemaField:(<dataset urn>,<column>)`` → (dataset urn, column)."""
    inner = field_urn.removeprefix("urn:li:schemaField:(")[:-1]
    dataset, _, column = inner.rpartition(",")
    return dataset, column


def _code_system(field: dict[str, Any], tags: list[str]) -> str | None:
    for tag in tags:
        if tag.startswith(_CODE_TAG):
            return tag.removeprefix(_CODE_TAG)
    raw = field.get("jsonProps")
    if raw:
        try:
            props = json.loads(raw)
        except json.JSONDecodeError:
            props = {}
        if isinstance(props, dict) and props.get("code_system"):
            return str(props["code_system"])
    return None


def _fields(schema: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for f in schema.get("fields", []):
        tags = [t["tag"] for t in (f.get("globalTags") or {}).get("tags", [])]
        classes = [t.removeprefix(_CLASS_TAG) for t in tags if t.startswith(_CLASS_TAG)]
        out.append(
            {
                "name": f["fieldPath"],
                "type": f.get("nativeDataType", ""),
                "description": f.get("description", ""),
                "classification": classes[0] if classes else "none",
                "code_system": _code_system(f, tags),
                "terms": [
                    _term_id(t["urn"]) for t in (f.get("glossaryTerms") or {}).get("terms", [])
                ],
                "key": bool(f.get("isPartOfKey")),
                "nullable": bool(f.get("nullable", True)),
            }
        )
    return out


def _dataset_label(ent: Entities, urn: str) -> str:
    props = ent.get(urn, "datasetProperties")
    return props.get("name") or urn


def _quality(ent: Entities, dataset: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(checks with their latest result, runs oldest first with per-category pass counts)."""
    checks = []
    runs: dict[str, dict[str, Any]] = {}
    for assertion in ent.of_kind("assertion"):
        info = ent.get(assertion, "assertionInfo")
        if info.get("entityUrn") != dataset:
            continue
        custom = info.get("customProperties", {})
        category = custom.get("kahn_category", "")
        latest: dict[str, Any] | None = None
        for event in ent.events.get(assertion, []):
            result = event.get("result") or {}
            kind = result.get("type")
            stamp = event.get("timestampMillis", 0)
            run = runs.setdefault(
                event.get("runId", ""), {"run_id": event.get("runId", ""), "at": stamp, "cats": {}}
            )
            run["at"] = max(run["at"], stamp)
            cat = run["cats"].setdefault(
                result.get("nativeResults", {}).get("category") or category,
                {"passed": 0, "total": 0},
            )
            cat["total"] += 1
            cat["passed"] += kind == "SUCCESS"
            if latest is None or stamp >= latest["at"]:
                latest = {
                    "at": stamp,
                    "result": kind,
                    "unexpected": result.get("unexpectedCount"),
                    "rows": result.get("rowCount"),
                }
        checks.append(
            {
                "check": custom.get("check", assertion),
                "description": info.get("description", ""),
                "category": category,
                "severity": custom.get("severity", ""),
                "columns": custom.get("columns", ""),
                "source": custom.get("source", ""),
                "result": latest["result"] if latest else None,
                "unexpected": latest["unexpected"] if latest else None,
                "rows": latest["rows"] if latest else None,
                "at": _iso(latest["at"]) if latest else None,
            }
        )
    history = sorted(runs.values(), key=lambda r: (r["at"], r["run_id"]))
    for run in history:
        run["at"] = _iso(run["at"])
    return sorted(checks, key=lambda c: (c["category"], c["check"])), history


def _status(checks: list[dict[str, Any]]) -> str:
    """ok / advarsel / fejl / ukendt from the latest results (blocking failures are fejl)."""
    ran = [c for c in checks if c["result"]]
    if not ran:
        return "ukendt"
    bad = [c for c in ran if c["result"] != "SUCCESS"]
    if any(c["severity"] == "blocking" for c in bad):
        return "fejl"
    return "advarsel" if bad else "ok"


def read_catalog(path: Path) -> dict[str, Any]:
    """The whole catalogue as the site shows it: domains, products, glossary, initiatives."""
    ent = Entities(read_proposals(path))
    domains = {}
    for urn in ent.of_kind("domain"):
        props = ent.get(urn, "domainProperties")
        domain_id = props.get("customProperties", {}).get("regionlab_id") or urn.rsplit(":", 1)[-1]
        domains[urn] = {
            "id": domain_id,
            "title": props.get("name", domain_id),
            "description": props.get("description", ""),
            "owners": owners(ent, urn),
            "products": [],
        }

    lake_tables = [
        u
        for u in ent.of_kind("dataset")
        if "Data Product Table" in ent.get(u, "subTypes").get("typeNames", [])
        or ent.get(u, "datasetProperties").get("customProperties", {}).get("product_ref")
    ]
    by_urn: dict[str, dict[str, Any]] = {}
    products = []
    for urn in lake_tables:
        props = ent.get(urn, "datasetProperties")
        custom = props.get("customProperties", {})
        ref = custom.get("product_ref") or urn
        domain_urns = ent.get(urn, "domains").get("domains", [])
        checks, history = _quality(ent, urn)
        lineage = ent.get(urn, "upstreamLineage")
        column_lineage = []
        for fine in lineage.get("fineGrainedLineages") or []:
            for down in fine.get("downstreams") or []:
                _, column = _field_column(down)
                column_lineage.append(
                    {
                        "column": column,
                        "from": [list(_field_column(u)) for u in fine.get("upstreams") or []],
                        "op": fine.get("transformOperation", ""),
                    }
                )
        product = {
            "ref": ref,
            "urn": urn,
            "id": ref.split("/")[-1],
            "domain": domains.get(domain_urns[0], {}).get("id", "") if domain_urns else "",
            "title": props.get("name", ref),
            "table": props.get("qualifiedName", ""),
            "description": props.get("description", ""),
            "keywords": props.get("tags", []),
            "properties": custom,
            "kind": "labelled"
            if "Labelled Data Product" in ent.get(urn, "subTypes").get("typeNames", [])
            else ("derived" if custom.get("derived_from") else "source"),
            "owners": owners(ent, urn),
            "terms": [_term_id(t["urn"]) for t in ent.get(urn, "glossaryTerms").get("terms", [])],
            "fields": _fields(ent.get(urn, "schemaMetadata")),
            "upstreams": [u["dataset"] for u in lineage.get("upstreams", [])],
            "column_lineage": column_lineage,
            "checks": checks,
            "quality_history": history,
            "quality_status": _status(checks),
            "initiatives": ent.get(urn, "applications").get("applications", []),
        }
        products.append(product)
        by_urn[urn] = product
        for d in domain_urns:
            if d in domains:
                domains[d]["products"].append(ref)

    # Downstreams, and names for every dataset a lineage edge touches.
    for product in products:
        product["downstreams"] = sorted(
            p["urn"] for p in products if product["urn"] in p["upstreams"]
        )
    datasets = {
        urn: {
            "urn": urn,
            "label": _dataset_label(ent, urn),
            "ref": by_urn[urn]["ref"] if urn in by_urn else None,
            "platform": urn.split("urn:li:dataPlatform:", 1)[-1].split(",", 1)[0]
            if "dataPlatform:" in urn
            else "",
            "columns": [f["name"] for f in _fields(ent.get(urn, "schemaMetadata"))],
        }
        for urn in {
            *by_urn,
            *(u for p in products for u in p["upstreams"]),
        }
    }

    glossary = []
    for node in ent.of_kind("glossaryNode"):
        info = ent.get(node, "glossaryNodeInfo")
        glossary.append(
            {
                "id": info.get("id") or node.rsplit(":", 1)[-1],
                "name": info.get("name", node),
                "description": info.get("definition", ""),
                "terms": [],
            }
        )
    nodes = {f"urn:li:glossaryNode:{n['id']}": n for n in glossary}
    for term in ent.of_kind("glossaryTerm"):
        info = ent.get(term, "glossaryTermInfo")
        term_id = info.get("id") or _term_id(term)
        entry = {
            "id": term_id,
            "name": info.get("name", term_id),
            "definition": info.get("definition", ""),
            "related": [
                _term_id(r)
                for r in ent.get(term, "glossaryRelatedTerms").get("relatedTerms", []) or []
            ],
            "products": sorted(
                p["ref"]
                for p in products
                if term_id in p["terms"] or any(term_id in f["terms"] for f in p["fields"])
            ),
        }
        parent = nodes.get(info.get("parentNode", ""))
        if parent is not None:
            parent["terms"].append(entry)
    for node in glossary:
        node["terms"].sort(key=lambda t: t["name"].lower())

    initiatives = []
    for app in ent.of_kind("application"):
        props = ent.get(app, "applicationProperties")
        custom = props.get("customProperties", {})
        used = [
            by_urn[e["destinationUrn"]]["ref"]
            for e in ent.get(app, "applicationLineage").get("inputEdges", []) or []
            if e.get("destinationUrn") in by_urn
        ]
        initiatives.append(
            {
                "urn": app,
                "id": custom.get("initiative_id", app.rsplit(":", 1)[-1]),
                "name": props.get("name", app),
                "description": props.get("description") or "",
                "phase": custom.get("phase", ""),
                "kind": custom.get("kind", ""),
                "owner": custom.get("responsible", ""),
                "department": custom.get("department", ""),
                "ai_act_risk": custom.get("ai_act_risk", ""),
                "started": custom.get("started"),
                "products": used,
            }
        )

    models = []
    for urn in ent.of_kind("mlModel"):
        props = ent.get(urn, "mlModelProperties")
        custom = props.get("customProperties", {})
        apps = ent.get(urn, "applications").get("applications", []) or []
        links = ent.get(urn, "institutionalMemory").get("elements", []) or []
        models.append(
            {
                "urn": urn,
                "name": props.get("name", urn),
                "title": props.get("description") or "",
                "initiatives": [a.rsplit(":", 1)[-1] for a in apps],
                "status": custom.get("validation_status", ""),
                "validated_at": custom.get("validated_at"),
                "trend": [t for t in custom.get("validation_trend", "").split(",") if t],
                "metrics": {
                    m["name"]: m.get("description") or m.get("value")
                    for m in props.get("onlineMetrics", []) or []
                },
                "report": next((e["url"] for e in links if e.get("url")), None),
            }
        )

    runs = []
    for instance in ent.of_kind("dataProcessInstance"):
        props = ent.get(instance, "dataProcessInstanceProperties")
        outputs = ent.get(instance, "dataProcessInstanceOutput").get("outputs", [])
        events = ent.events.get(instance, [])
        end = max((e.get("timestampMillis", 0) for e in events), default=None)
        result = next(
            (
                (e.get("result") or {}).get("type")
                for e in reversed(events)
                if e.get("status") == "COMPLETE"
            ),
            None,
        )
        for out in outputs:
            if out in by_urn:
                runs.append(
                    {
                        "product": by_urn[out]["ref"],
                        "run_id": props.get("customProperties", {}).get("run_id", ""),
                        "at": _iso(end),
                        "result": result,
                    }
                )
    runs.sort(key=lambda r: (r["at"] or "", r["product"]), reverse=True)

    return {
        "domains": sorted(domains.values(), key=lambda d: d["title"].lower()),
        "products": sorted(products, key=lambda p: p["ref"]),
        "datasets": datasets,
        "glossary": sorted(glossary, key=lambda n: n["name"].lower()),
        "initiatives": sorted(initiatives, key=lambda i: i["id"]),
        "models": sorted(models, key=lambda m: m["name"]),
        "runs": runs,
        "classifications": {
            t.removeprefix(_CLASS_TAG): ent.get(t, "tagProperties").get("description", "")
            for t in ent.of_kind("tag")
            if t.startswith(_CLASS_TAG)
        },
        "platform": urns.PLATFORM,
    }
