"""Load ``domains/`` into a :class:`Registry`, collecting every problem instead of stopping.

A steward fixing a folder wants all problems at once, each naming the file and
field, so the loader validates every file, then runs the cross-file checks.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from regionlab.errors import UserError
from regionlab.spec.checks import cross_checks
from regionlab.spec.lenient import validate_leniently
from regionlab.spec.models import Domain, Glossary, Product, Registry
from regionlab.spec.problems import SpecProblem, from_validation_error
from regionlab.spec.region import CATALOG_FILE, RegionCatalogue

DOMAIN_FILE = "domain.yaml"
GLOSSARY_FILE = "glossary.yaml"

M = TypeVar("M", bound=BaseModel)


class SpecError(UserError):
    """Raised when ``domains/`` has problems; carries all of them."""

    def __init__(self, problems: list[SpecProblem], root: Path) -> None:
        self.problems = problems
        self.root = root
        lines = "\n".join(p.render(root.parent) for p in problems)
        super().__init__(
            f"{len(problems)} problem(s) in {root}:\n{lines}\n"
            "run `regionlab check` to see them again"
        )


#: libyaml's parser when PyYAML has it: ≈10× the pure-Python one, which took 2.4 s of a
#: no-op `regionlab run` for the 23 files under domains/ on a busy host.
_FAST_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _safe_load(text: str) -> Any:
    """``yaml.safe_load``, parsed by libyaml; a file it refuses is parsed again by PyYAML's
    own parser, whose message (and line) is the one users see."""
    try:
        return yaml.load(text, Loader=_FAST_LOADER)  # noqa: S506 (a safe loader)
    except yaml.YAMLError:
        return yaml.safe_load(text)


def _read_yaml(path: Path, problems: list[SpecProblem]) -> Any:
    try:
        return _safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark else "(file)"
        reason = getattr(exc, "problem", None) or str(exc)
        problems.append(SpecProblem(path, where, f"not valid YAML: {reason}", "fix the syntax"))
    except UnicodeDecodeError:
        problems.append(SpecProblem(path, "(file)", "not UTF-8 text", "save the file as UTF-8"))
    return None


def _parse(path: Path, model: type[M], problems: list[SpecProblem]) -> M | None:
    return _parse_leniently(path, model, problems, lenient=False)[0]


def _parse_leniently(
    path: Path, model: type[M], problems: list[SpecProblem], *, lenient: bool = True
) -> tuple[M | None, set[str] | None]:
    """The model and, when it was read past schema errors (:mod:`regionlab.spec.lenient`),
    the field paths left at their defaults; ``None`` for those when the file was valid."""
    before = len(problems)
    data = _read_yaml(path, problems)
    if data is None and len(problems) == before:
        data = {}
    if not isinstance(data, dict):
        if data is not None:
            problems.append(
                SpecProblem(path, "(file)", "expected a mapping of fields", "see domains/README.md")
            )
        return None, None
    try:
        return model.model_validate(data), None
    except ValidationError as exc:
        problems.extend(from_validation_error(path, exc, data, model))
    if not lenient:
        return None, None
    return validate_leniently(data, model)


def collect(root: Path) -> tuple[Registry, list[SpecProblem]]:
    """Load everything that parses and return it with all problems found."""
    problems: list[SpecProblem] = []
    if not root.is_dir():
        raise UserError(f"no domains folder at {root} (set REGIONLAB_DOMAINS or create it)")
    domains: dict[str, Domain] = {}
    products: dict[str, Product] = {}
    files: dict[str, Path] = {}
    set_aside: dict[Path, set[str]] = {}  # file read past schema errors -> defaulted fields
    for folder in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        domain_file = folder / DOMAIN_FILE
        if not domain_file.exists():
            problems.append(
                SpecProblem(domain_file, "(file)", "domain folder has no domain.yaml", "add one")
            )
        elif (domain := _parse(domain_file, Domain, problems)) is not None:
            if domain.id != folder.name:
                problems.append(
                    SpecProblem(
                        domain_file,
                        "id",
                        f"'{domain.id}' differs from folder name",
                        f"set id: {folder.name}",
                    )
                )
            domains[folder.name] = domain
        for path in sorted(folder.glob("*.yaml")):
            if path.name == DOMAIN_FILE:
                continue
            product, defaulted = _parse_leniently(path, Product, problems)
            if product is None:
                continue
            if defaulted is not None:
                set_aside[path] = defaulted
            if product.id != path.stem:
                problems.append(
                    SpecProblem(
                        path, "id", f"'{product.id}' differs from file name", f"set id: {path.stem}"
                    )
                )
            if product.domain != folder.name:
                problems.append(
                    SpecProblem(
                        path,
                        "domain",
                        f"'{product.domain}' differs from folder name",
                        f"set domain: {folder.name}",
                    )
                )
            if product.ref in products:
                problems.append(
                    SpecProblem(
                        path,
                        "id",
                        f"duplicate product id {product.ref}",
                        f"also defined in {files[product.ref].name}",
                    )
                )
                continue
            products[product.ref] = product
            files[product.ref] = path
    glossary_path = root / GLOSSARY_FILE
    glossary = Glossary()
    if glossary_path.exists():
        glossary = _parse(glossary_path, Glossary, problems) or Glossary()
    catalog_path = root / CATALOG_FILE
    if catalog_path.exists():
        # Region-wide catalogue facts: optional, but checked with the rest when present.
        _parse(catalog_path, RegionCatalogue, problems)
    registry = Registry(domains=domains, products=products, glossary=glossary)
    problems.extend(
        p for p in cross_checks(registry, files, root) if not _about_defaulted(p, set_aside)
    )
    return registry, problems


def _about_defaulted(problem: SpecProblem, set_aside: dict[Path, set[str]]) -> bool:
    """A semantic problem about a field the lenient reading left at its default."""
    return any(
        problem.field == where or problem.field.startswith((f"{where}.", f"{where}["))
        for where in set_aside.get(problem.file, ())
    )


def load_domains(root: Path | None = None) -> Registry:
    """Load and validate ``domains/``; raise :class:`SpecError` listing every problem."""
    if root is None:
        from regionlab.settings import get_settings

        root = get_settings().domains_dir
    registry, problems = collect(root)
    if problems:
        raise SpecError(problems, root)
    return registry
