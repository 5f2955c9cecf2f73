"""``regionlab synth`` on the command line."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from cli import _register, app
from regionlab.errors import UserError


def test_synth_writes_to_the_sources_dir(var_dir: Path) -> None:
    _register()
    result = CliRunner().invoke(app, ["synth", "--persons", "200", "--seed", "1"])
    assert result.exit_code == 0, result.output
    assert (var_dir / "sources" / "cpr" / "persons" / "persons_2026-11-01.csv").is_file()
    assert (var_dir / "sources" / "defects.csv").is_file()
    assert "persons_2026-11-01.csv" in result.output and "defects labelled" in result.output


def test_synth_options(tmp_path: Path, var_dir: Path) -> None:
    _register()
    out = tmp_path / "elsewhere"
    args = ["synth", "--persons", "150", "--out", str(out), "--as-of", "2025-06-30",
            "--deliveries", "2", "--defect-rate", "0"]  # fmt: skip
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    names = sorted(p.name for p in (out / "lpr3" / "diagnoses").iterdir())
    assert names == ["diagnoses_2025-05-01.csv", "diagnoses_2025-06-30.csv"]
    assert (out / "defects.csv").read_text().strip() == "file,record_id,defect"


def test_bad_arguments_are_refused(var_dir: Path) -> None:
    _register()
    result = CliRunner().invoke(app, ["synth", "--persons", "-5"])
    assert isinstance(result.exception, UserError)
    result = CliRunner().invoke(app, ["synth", "--defect-rate", "0.6"])
    assert isinstance(result.exception, UserError)
    result = CliRunner().invoke(app, ["synth", "--as-of", "1. november"])
    assert isinstance(result.exception, UserError)


def test_entry_point_prints_one_line_error(var_dir: Path) -> None:
    exe = Path(sys.executable).parent / "regionlab"
    proc = subprocess.run([exe, "synth", "--persons", "-1"], capture_output=True, text=True)
    assert proc.returncode == 1
    assert "error:" in proc.stderr and "Traceback" not in proc.stderr
