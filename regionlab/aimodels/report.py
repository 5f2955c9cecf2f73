"""The validation report as one self-contained HTML file: plots first, numbers below.

People would rather look than read: ROC curve, calibration plot and a subgroup
forest plot (sensitivity at the card's first threshold with Wilson intervals,
suppressed subgroups listed as hidden) for probability models; a forest plot of
per-label F1 for span models. Plots are matplotlib SVG inlined, so the file opens
from disk and from the catalogue site alike. Every value is escaped.
"""

from __future__ import annotations

import io
from html import escape
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

STATUS_COLOUR = {"pass": "#1a7f37", "warn": "#b35900", "block": "#c62828"}


def _svg(fig) -> str:
    buf = io.StringIO()
    fig.savefig(buf, format="svg", bbox_inches="tight")
    plt.close(fig)
    text = buf.getvalue()
    return text[text.find("<svg") :]


def _roc(report: dict[str, Any]) -> str:
    fig, ax = plt.subplots(figsize=(4, 4))
    ax.plot(report["roc"]["fpr"], report["roc"]["tpr"], color="#1f4e9c")
    ax.plot([0, 1], [0, 1], ls="--", color="grey", lw=0.8)
    auc = report["headline"]["auroc"]
    if auc["value"] is not None:
        ax.set_title(f"ROC — AUROC {_fmt(auc)}")
    ax.set_xlabel("1 − specificitet")
    ax.set_ylabel("sensitivitet")
    return _svg(fig)


def _calibration(report: dict[str, Any]) -> str:
    fig, ax = plt.subplots(figsize=(4, 4))
    bins = [b for b in report["calibration"] if b["observed"] is not None]
    ax.plot([b["mean_predicted"] for b in bins], [b["observed"] for b in bins], "o-",
            color="#1f4e9c")  # fmt: skip
    top = max([0.05] + [max(b["mean_predicted"], b["observed"]) for b in bins]) * 1.1
    ax.plot([0, top], [0, top], ls="--", color="grey", lw=0.8)
    slope = report["headline"]["calibration_slope"]["value"]
    ax.set_title("Kalibrering" + (f" — hældning {slope:.2f}" if slope is not None else ""))
    ax.set_xlabel("forudsagt risiko (decil)")
    ax.set_ylabel("observeret andel")
    return _svg(fig)


def _forest(rows: list[tuple[str, float, float | None, float | None]], title: str,
            overall: float | None) -> str:  # fmt: skip
    fig, ax = plt.subplots(figsize=(6, 0.3 * len(rows) + 1.2))
    for i, (_name, value, low, high) in enumerate(rows):
        if low is not None and high is not None:
            ax.plot([low, high], [i, i], color="#1f4e9c")
        ax.plot([value], [i], "s", color="#1f4e9c")
    if overall is not None:
        ax.axvline(overall, ls="--", color="grey", lw=0.8)
    ax.set_yticks(range(len(rows)), [r[0] for r in rows])
    ax.invert_yaxis()
    ax.set_xlim(0, 1)
    ax.set_title(title)
    return _svg(fig)


def _subgroup_forest(report: dict[str, Any]) -> str | None:
    if not report.get("thresholds"):
        return None
    t = report["thresholds"][0]["threshold"]
    key = f"sensitivity@{t:g}"
    rows = []
    for r in report["subgroups"]["rows"]:
        value = None if r["suppressed"] else r["rates"].get(key)
        if value is None:
            continue
        # the interval comes computed from the subgroup module: never rebuild a count here
        low, high = (r.get("intervals") or {}).get(key) or (None, None)
        rows.append((f"{r['dimension']}={r['level']}", value, low, high))
    if not rows:
        return None
    overall = report["headline"][key]["value"]
    return _forest(rows, f"Sensitivitet ved tærskel {t:g} pr. undergruppe (95 % CI)", overall)


def _span_forest(report: dict[str, Any]) -> str:
    rows = [
        ("alle" if s["label"] == "*" else s["label"], s["f1"]["value"], s["f1"]["low"],
         s["f1"]["high"])
        for s in report["labels"]
        if s["f1"]["value"] is not None
    ]  # fmt: skip
    return _forest(rows, "F1 pr. entitet (eksakt spænd, 95 % bootstrap-CI)", None)


def _fmt(est: dict[str, float | None]) -> str:
    if est["value"] is None:
        return "ikke beregnelig"
    if est["low"] is None:
        return f"{est['value']:.3f}"
    return f"{est['value']:.3f} ({est['low']:.3f}–{est['high']:.3f})"


def _table(headers: list[str], rows: list[list[Any]]) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = "".join(
        "<tr>" + "".join(f"<td>{escape(str(c))}</td>" for c in row) + "</tr>" for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _span_sections(report: dict[str, Any]) -> list[str]:
    """Per-label counts (small cells hidden), the test set's draw and the truth's agreement."""
    hidden = "skjult"
    parts = [
        f"<h2>Pr. entitet</h2><p>{escape(str(report['documents']))} dokumenter. Entiteter "
        f"med et antal under {report.get('min_cell', 5)} vises uden tal (småtalsreglen), "
        "og med dem den næstmindste, så intet skjult tal følger af totalen.</p>",
        _table(
            ["entitet", "tp", "fp", "fn", "F1"],
            [
                [
                    "alle" if r["label"] == "*" else r["label"],
                    *(hidden if r[k] is None else r[k] for k in ("tp", "fp", "fn")),
                    _fmt(r["f1"]) if r["f1"]["value"] is not None else hidden,
                ]
                for r in report["labels"]
            ],
        ),  # fmt: skip
    ]
    ts = report.get("test_set") or {}
    if ts.get("drawn") is None:
        parts.append(f"<h2>Testsæt</h2><p>{escape(str(ts.get('note', 'intet testsæt')))}</p>")
    else:
        parts += [
            "<h2>Testsæt</h2>"
            f"<p>Trukket {escape(str(ts['drawn_at']))} fra lake-snapshot "
            f"{escape(str(ts['snapshot_id']))} med seed {escape(str(ts['seed']))}, stratificeret "
            f"efter {escape(', '.join(ts['strata']) or 'intet')} (mindst "
            f"{escape(str(ts['min_per_stratum']))} pr. stratum): {escape(str(ts['drawn']))} "
            f"dokumenter, heraf {escape(str(ts['overlap_documents']))} til "
            f"{escape(str(ts['annotators']))} annotatorer; "
            f"{escape(str(ts['labelled_and_used']))} annoteret og brugt.</p>",
            _table(["stratum", "dokumenter"], [[k, v] for k, v in ts["per_stratum"].items()]),
        ]
    agreement = report.get("agreement") or {}
    f1 = agreement.get("exact_span_f1") or {}
    parts.append(
        "<h2>Referencens enighed</h2>"
        f"<p>{escape(str(agreement.get('documents_with_overlap', 0)))} dokumenter i referencen er "
        f"annoteret af flere; {escape(str(agreement.get('annotator_pairs', 0)))} "
        "annotatorpar. Eksakt spænd-F1 mellem annotatorer:</p>"
        + (
            _table(["entitet", "F1"],
                   [[k, "" if v is None else f"{v:.3f}"] for k, v in f1.items()])
            if f1
            else "<p>Ingen enighedsmåling: intet dokument har to annotatorer.</p>"
        )
    )  # fmt: skip
    return parts


def render_html(report: dict[str, Any]) -> str:
    status = report["status"]
    plots = []
    if report["output"] == "spans":
        plots.append(_span_forest(report))
    else:
        plots += [_roc(report), _calibration(report)]
        forest = _subgroup_forest(report)
        if forest:
            plots.append(forest)
    parts = [
        f"<h1>{escape(report['title'])}</h1>",
        f"<p class=status style='color:{STATUS_COLOUR[status]}'>Status: <b>{escape(status)}</b>"
        f" — model {escape(report['model_id'])} v{escape(report['version'])}, initiativ "
        f"{escape(report['initiative'])}, valideret {escape(report['validated_at'])} på "
        f"lake-snapshot {escape(str(report['snapshot_id']))}</p>",
        "<div class=plots>" + "".join(f"<figure>{p}</figure>" for p in plots) + "</div>",
        "<h2>Nøgletal (95 % CI)</h2>",
        _table(["mål", "værdi"], [[k, _fmt(v)] for k, v in report["headline"].items()]),
        "<h2>Acceptkriterier fra modelkortet</h2>",
        _table(
            ["mål", "status", "begrundelse"],
            [
                [j["name"], j["status"], j["reason"]]
                for j in [
                    *report["judgements"],
                    *report.get("disparity", []),
                    *report.get("drift", []),
                ]
            ],
        ),  # fmt: skip
    ]
    if report["output"] != "spans":
        sub = report["subgroups"]
        parts += [
            f"<h2>Undergrupper</h2><p>{sub['suppressed']} undergruppe(r) skjult efter "
            f"småtalsreglen (færre end {sub['min_cell']} personer, positive eller negative).</p>",
            _table(
                ["dimension", "niveau", "n", "positive", "AUROC"],
                [
                    [
                        r["dimension"],
                        r["level"],
                        r["n"] if not r["suppressed"] else "skjult",
                        r["positives"] if not r["suppressed"] else "skjult",
                        "" if r["auroc"] is None else f"{r['auroc']:.3f}",
                    ]
                    for r in sub["rows"]
                ],
            ),  # fmt: skip
        ]
    else:
        parts += _span_sections(report)
    parts.append(f"<h2>Syntetisk signal</h2><p>{escape(report['synthetic_signal'])}</p>")
    style = (
        "body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em}"
        "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:2px 8px}"
        ".plots{display:flex;flex-wrap:wrap;gap:1em}figure{margin:0}"
    )
    return (
        "<!doctype html><html lang=da><head><meta charset=utf-8>"
        f"<title>{escape(report['title'])}</title><style>{style}</style></head><body>"
        + "\n".join(parts)
        + "</body></html>\n"
    )


def write_html(report: dict[str, Any], path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_html(report), encoding="utf-8")
    return path
