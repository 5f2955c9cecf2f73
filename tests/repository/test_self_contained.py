"""The repository stands on its own: nothing it runs or tests reads a folder beside the clone.

A user who clones the repository has only the repository. Code, tests, configuration and
notebooks may not name a path outside it (the sibling ``shared`` folder the project was first
designed in, or its absolute location on the development machine); Markdown may mention
that history in prose, but links in it must stay inside the clone.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

# Spelled in pieces so this file does not match itself.
_SIBLING = "shared"
_FORBIDDEN = re.compile(
    r"\.\./" + _SIBLING + r"\b"  # the relative path from the clone
    r"|/work/" + _SIBLING + r"\b"  # the absolute path on the development machine
    r"|\.parent\s*/\s*[\"']" + _SIBLING + r"[\"']"  # a Path's parent joined with it
    r"|[\"']" + _SIBLING + r"[\"']\s*/\s*[\"']healthdcat"  # it joined with the validator
)
_MD_LINK = re.compile(r"\]\(([^)\s]+)\)|^\[[^\]]+\]:\s*(\S+)", re.M)
_BINARY = {".png", ".jpg", ".jpeg", ".gif", ".ico", ".woff", ".woff2", ".parquet", ".pdf"}


def tracked_files() -> list[Path]:
    out = subprocess.run(
        ["git", "ls-files", "-z"], cwd=REPO, capture_output=True, check=True
    ).stdout.decode()
    return [REPO / name for name in out.split("\0") if name]


def _text(path: Path) -> str | None:
    if path.suffix in _BINARY or not path.is_file():
        return None
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        return None


def test_no_code_test_or_config_file_reads_a_folder_beside_the_clone() -> None:
    offenders = []
    for path in tracked_files():
        if path.suffix == ".md":
            continue  # prose; its links are checked below
        text = _text(path)
        if text is None:
            continue
        for lineno, line in enumerate(text.splitlines(), 1):
            if _FORBIDDEN.search(line):
                offenders.append(f"{path.relative_to(REPO)}:{lineno}: {line.strip()[:120]}")
    assert not offenders, "paths outside the repository:\n" + "\n".join(offenders)


def test_markdown_links_stay_inside_the_clone() -> None:
    offenders = []
    for path in tracked_files():
        if path.suffix != ".md" or "node_modules" in path.parts:
            continue
        text = _text(path) or ""
        for match in _MD_LINK.finditer(text):
            target = match.group(1) or match.group(2)
            if target.startswith(("http://", "https://", "mailto:", "#")):
                continue
            resolved = (path.parent / target.split("#", 1)[0]).resolve()
            outside = REPO not in resolved.parents and resolved != REPO
            if outside or _FORBIDDEN.search(target):
                offenders.append(f"{path.relative_to(REPO)}: {target}")
    assert not offenders, "Markdown links outside the repository:\n" + "\n".join(offenders)


def test_the_readme_links_the_projects_own_architecture() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert "(docs/architecture.md)" in readme
    assert (REPO / "docs" / "architecture.md").exists()


def test_the_checks_catch_what_they_are_for() -> None:
    """The patterns match the forms the references took before the repository was
    self-contained (a test read the validator beside the clone, the README linked the design)."""
    before = [
        'SHARED = Path(__file__).resolve().parents[2].parent / "' + _SIBLING + '" / "x"',
        "python ../" + _SIBLING + "/healthdcat-ap-r8/validate.py",
        'SHARED = REPO.parent / "' + _SIBLING + '"',
        "/work/" + _SIBLING + "/DESIGN.md",
    ]
    assert all(_FORBIDDEN.search(line) for line in before)
    assert not _FORBIDDEN.search("a shared folder, or object storage")
    link = "Read [the design](../" + _SIBLING + "/DESIGN.md)."
    [match] = list(_MD_LINK.finditer(link))
    assert REPO not in (REPO / match.group(1)).resolve().parents
