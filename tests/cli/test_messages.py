"""What the CLI prints: messages verbatim (no markup eaten), English help, a light import."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import typer
from rich.console import Console

import cli
from cli.console import make_console, styled

REPO = Path(__file__).resolve().parents[2]
PATTERN = "^[a-z][a-z0-9-]{1,62}$"


def _main(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    old = sys.argv
    sys.argv = ["regionlab", *args]
    try:
        with pytest.raises(SystemExit) as exited:
            cli.main()
    finally:
        sys.argv = old
    out = capsys.readouterr()
    return int(exited.value.code or 0), out.out, out.err


def test_a_user_error_quoting_a_pattern_is_printed_whole(
    tmp_path: Path, var_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    permit = (REPO / "permits" / "t2d-hba1c.yaml").read_text(encoding="utf-8")
    bad = tmp_path / "bad.yaml"
    bad.write_text(permit.replace("project_id: t2d-hba1c", "project_id: T2D_hba1c"), "utf-8")
    code, _, err = _main(["permit", "apply", str(bad)], capsys)
    assert code == 1
    assert "Traceback" not in err
    joined = "".join(err.splitlines())  # rich may wrap a long line
    assert PATTERN in joined, err
    assert joined.startswith("error: ")


def test_plain_strings_print_literally_and_styled_values_are_escaped() -> None:
    console = make_console(record=True)
    console.print(f"project_id must match {PATTERN} [bold]x[/]")
    console.print(styled("[red]{}[/]: {}", "research/[a]", f"pattern {PATTERN}"))
    console.print(f"already literal {PATTERN}", markup=False)
    text = console.export_text()
    assert f"project_id must match {PATTERN} [bold]x[/]" in text
    assert f"research/[a]: pattern {PATTERN}" in text
    assert f"already literal {PATTERN}" in text
    assert "\\[" not in text  # escaping never shows its backslashes


def _help_texts() -> list[tuple[str, str]]:
    """(where, text) of every command's and option's help in the real app."""
    cli._register()
    out: list[tuple[str, str]] = []

    def walk(command: object, path: str) -> None:
        out.append((path, getattr(command, "help", None) or ""))
        for param in getattr(command, "params", []):
            out.append((f"{path} {param.name}", getattr(param, "help", None) or ""))
        for name, child in getattr(command, "commands", {}).items():
            walk(child, f"{path} {name}")

    walk(typer.main.get_command(cli.app), "regionlab")
    return out


#: Words of Danish prose that English help never contains ("indsigelse" as an example value
#: of --reason is a term of the domain, not prose).
DANISH = {"og", "af", "vis", "udsend", "eksport", "kataloget", "til", "med", "ikke", "fra"}


def test_cli_help_is_english() -> None:
    texts = _help_texts()
    assert len(texts) > 40
    for where, text in texts:
        words = {w.strip(".,:;()`'\"").lower() for w in text.split()}
        assert not set("æøåÆØÅ") & set(text), f"{where}: {text}"
        assert not words & DANISH, f"{where}: {text} ({words & DANISH})"


HEAVY = (
    "dagster",
    "great_expectations",
    "datahub",
    "label_studio_sdk",
    "duckdb",
    "sqlglot",
    "pandas",
    "numpy",
    "pyarrow",
    "pydantic",
    # what typer's help renderer would import for Markdown help and tracebacks
    "markdown_it",
    "pygments",
)


@pytest.mark.parametrize(
    "code",
    [
        "import cli",
        "import cli, typer; cli._register(); typer.main.get_command(cli.app)",
        "import sys, cli; sys.argv = ['regionlab', '--help']\n"
        "try:\n    cli.main()\nexcept SystemExit:\n    pass",
        "import sys, cli; sys.argv = ['regionlab', 'run', '--help']\n"
        "try:\n    cli.main()\nexcept SystemExit:\n    pass",
        "import sys, cli; sys.argv = ['regionlab', 'catalog', 'emit', '--help']\n"
        "try:\n    cli.main()\nexcept SystemExit:\n    pass",
    ],
    ids=["import", "build-app", "help", "run-help", "catalog-emit-help"],
)
def test_help_imports_no_heavy_library(code: str, tmp_path: Path) -> None:
    probe = f"{code}\nimport sys\nprint(sorted({{m.split('.')[0] for m in sys.modules}}))"
    env = {**os.environ, "REGIONLAB_VAR": str(tmp_path / "var")}
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, env=env, cwd=REPO
    )
    assert done.returncode == 0, done.stderr
    loaded = set(eval(done.stdout.strip().splitlines()[-1]))  # noqa: S307 - our own output
    assert not loaded & set(HEAVY), sorted(loaded & set(HEAVY))


#: What the researcher's count must not load: the lake, the data libraries, the platform.
CLIENT_HEAVY = (
    "dagster",
    "great_expectations",
    "datahub",
    "duckdb",
    "sqlglot",
    "pandas",
    "numpy",
    "polars",
    "pyarrow",
)


def test_feasibility_client_imports_no_heavy_library(tmp_path: Path) -> None:
    """`regionlab feasibility` is a client: it validates the cohort, asks the service over
    HTTP and prints the answer, without DuckDB, pandas, polars, Dagster or GX (start-up is
    most of a researcher's wait, issue 23). A stand-in service answers in this process."""
    import json
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    asked: list[dict] = []
    answer = {
        "cohort_name": "t2d_vejle",
        "cohort_hash": "0" * 16,
        "snapshot_id": 7,
        "dimensions": ["sex", "municipality"],
        "threshold": 5,
        "total": 1234,
        "cells": [
            {"key": ["K", "630"], "display": 600},
            {"key": ["M", "630"], "display": "<5"},
            {"key": ["Total", "Total"], "display": 1234, "margin": True},
        ],
        "audit_entry_id": "a-1",
        "user": "ann",
    }

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's name
            body = self.rfile.read(int(self.headers["Content-Length"]))
            asked.append({"path": self.path, "auth": self.headers["Authorization"]})
            asked[-1]["body"] = json.loads(body)
            data = json.dumps(answer).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    code = (
        "import sys, cli\n"
        "sys.argv = ['regionlab', 'feasibility', 'cohorts/t2d_vejle.yaml', '--by', "
        "'sex,municipality']\n"
        "try:\n    cli.main()\nexcept SystemExit as exc:\n    assert not exc.code, exc.code\n"
        "print(sorted({m.split('.')[0] for m in sys.modules}))"
    )
    env = {
        **os.environ,
        "REGIONLAB_VAR": str(tmp_path / "var"),
        "REGIONLAB_SERVICE_URL": f"http://127.0.0.1:{server.server_address[1]}",
        "REGIONLAB_TOKEN": "token-of-ann",
        "COLUMNS": "200",
    }
    try:
        done = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=REPO
        )
    finally:
        server.shutdown()
        server.server_close()
    assert done.returncode == 0, done.stderr
    lines = done.stdout.strip().splitlines()
    assert "t2d_vejle: 1234 persons (lake snapshot 7)" in done.stdout
    assert "630 Vejle" in done.stdout  # the municipality's name from the code list
    assert [a["path"] for a in asked] == ["/feasibility"]
    assert asked[0]["auth"] == "Bearer token-of-ann"
    assert asked[0]["body"]["by"] == ["sex", "municipality"]
    loaded = set(eval(lines[-1]))  # noqa: S307 - our own output
    assert not loaded & set(CLIENT_HEAVY), sorted(loaded & set(CLIENT_HEAVY))


def test_catalog_show_card_is_english() -> None:
    from catalog.show import ProductCard, render

    card = ProductCard(
        ref="population/persons",
        urn="urn:li:dataset:x",
        name="Personer",
        description="",
        properties={},
        domains=[],
        domain_names=["Befolkning"],
        owners=[],
        data_products=[],
        upstreams=[],
        column_lineage={},
        fields=[],
    )
    console = Console(width=200, record=True)
    console.print(render(card))
    text = console.export_text()
    for label in ("domain", "data product", "owners", "Schema", "Quality (latest run)", "rule"):
        assert label in text
    for danish in ("domæne", "ejere", "Skema", "Kvalitet", "regel"):
        assert danish not in text
