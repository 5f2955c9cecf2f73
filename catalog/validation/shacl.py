"""Validate HealthDCAT-AP with pySHACL the way the EU's HealthData@EU validator does.

The EU validator (``healthdcat-ap-r8/config.properties``) has one shape set per
access level — PUBLIC, RESTRICTED, NON_PUBLIC — and a catalogue is submitted
as one level. The region's export mixes levels (one ``dcat:Dataset`` per
product, each with its ``dct:accessRights``), so every level present is
validated with its own shapes and each result is attributed to the level whose
datasets it is about:

- shapes: the level's HealthDCAT-AP R8 shapes, range and vocabulary shapes, the
  DCAT-AP 3.0.0 base shapes they import, and (optionally) the level's
  recommended shapes, whose results are warnings;
- pySHACL refuses ``sh:property`` nodes without ``sh:path`` (an ``sh:or`` over
  the whole dataset): each is re-attached to its parent as ``sh:node`` in
  memory — same constraints, evaluated on the focus node;
- the vocabularies are merged into the data graph, as the EU validator
  preloads them as OWL imports (given as pySHACL's ``ont_graph`` they are not
  seen by the ``skos:inScheme`` checks);
- a result counts when it is about a node the level's datasets describe (or a
  node no dataset reaches, such as a legal resource), or about a value they
  point to that no vocabulary describes (a made-up concept). Results about
  the vocabularies' own nodes are counted apart (``vocabulary_side``), and
  results about another level's datasets belong to that level.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from pyshacl import validate
from rdflib import RDF, BNode, Graph, Namespace, URIRef
from rdflib.namespace import DCAT, DCTERMS

from regionlab.errors import UserError
from regionlab.spec.vocab import AccessLevel

SH = Namespace("http://www.w3.org/ns/shacl#")
ROOT = Path(__file__).resolve().parent
HEALTH_R8 = ROOT / "healthdcat-ap-r8"
DCAT_AP = ROOT / "dcat-ap-3.0.0"
VOCABULARY_SUBSET = ROOT / "vocabulary-subset"

ACCESS_RIGHT = "http://publications.europa.eu/resource/authority/access-right/"
#: The EU validator's name of each level (``validator.type`` in config.properties).
_VALIDATOR_TYPE = {
    AccessLevel.public: "public",
    AccessLevel.restricted: "restricted",
    AccessLevel.non_public: "non-public",
}
_BY_RIGHT = {
    URIRef(f"{ACCESS_RIGHT}PUBLIC"): AccessLevel.public,
    URIRef(f"{ACCESS_RIGHT}RESTRICTED"): AccessLevel.restricted,
    URIRef(f"{ACCESS_RIGHT}NON_PUBLIC"): AccessLevel.non_public,
}


@dataclass(frozen=True)
class Finding:
    """One SHACL result: which node, which property, what the shape says."""

    focus: str
    path: str | None
    message: str
    severity: str  # Violation, Warning or Info


@dataclass
class LevelReport:
    """The results that concern one access level's datasets."""

    level: AccessLevel
    datasets: int
    findings: list[Finding] = field(default_factory=list)
    vocabulary_side: int = 0

    def count(self, severity: str) -> int:
        return sum(1 for f in self.findings if f.severity == severity)

    @property
    def violations(self) -> int:
        return self.count("Violation")

    @property
    def warnings(self) -> int:
        return self.count("Warning")


def shape_files(level: AccessLevel, recommended: bool) -> list[Path]:
    """The vendored shape files for ``level``, as the EU validator loads them."""
    name = _VALIDATOR_TYPE[level]
    files = [
        HEALTH_R8 / "shapes" / f"{name}-shapes.ttl",
        HEALTH_R8 / "ranges" / "range.ttl",
        HEALTH_R8 / "controlled-vocabularies" / "mdr-vocabularies.shape.ttl",
        DCAT_AP / "shapes.ttl",
        DCAT_AP / "range.ttl",
    ]
    if recommended:
        files.append(HEALTH_R8 / "recommended" / f"{name}-shapes_recommended.ttl")
    return files


@lru_cache(maxsize=6)
def load_shapes(level: AccessLevel, recommended: bool = False) -> Graph:
    """The shapes graph of ``level`` (cached: callers must not modify it)."""
    shapes = Graph()
    for path in shape_files(level, recommended):
        shapes.parse(path, format="turtle")
    for parent, node in list(shapes.subject_objects(SH.property)):
        if (node, SH.path, None) not in shapes:
            shapes.remove((parent, SH.property, node))
            shapes.add((parent, SH.node, node))
            shapes.add((node, RDF.type, SH.NodeShape))
    return shapes


@lru_cache(maxsize=1)
def load_vocabularies() -> Graph:
    """The controlled vocabularies the ``skos:inScheme`` checks need (cached, read-only)."""
    vocab = Graph()
    for path in sorted((HEALTH_R8 / "catalogue").glob("*.rdf")):
        vocab.parse(path, format="xml")
    for path in sorted(VOCABULARY_SUBSET.glob("*.ttl")):
        vocab.parse(path, format="turtle")
    return vocab


def level_of(graph: Graph, dataset: URIRef | BNode) -> AccessLevel:
    """A dataset's access level from its ``dct:accessRights``.

    A dataset without a known access right is taken as NON_PUBLIC, the strictest
    level, where its missing or unknown access right is itself a violation.
    """
    for right in graph.objects(dataset, DCTERMS.accessRights):
        if right in _BY_RIGHT:
            return _BY_RIGHT[right]
    return AccessLevel.non_public


def _datasets_by_level(graph: Graph) -> dict[AccessLevel, set]:
    out: dict[AccessLevel, set] = {}
    for ds in set(graph.subjects(RDF.type, DCAT.Dataset)):
        out.setdefault(level_of(graph, ds), set()).add(ds)
    return out


def _reachable(graph: Graph, start: Iterable, stop: set) -> set:
    """Nodes described in ``graph`` reachable from ``start`` without entering ``stop``."""
    seen = set(start)
    queue = deque(seen)
    while queue:
        node = queue.popleft()
        for obj in graph.objects(node, None):
            if isinstance(obj, URIRef | BNode) and obj not in seen and obj not in stop:
                seen.add(obj)
                queue.append(obj)
    return seen


def validate_graph(
    data: Graph,
    level: AccessLevel,
    *,
    recommended: bool = False,
    all_datasets: bool = False,
) -> LevelReport:
    """Validate the datasets of ``level`` in ``data`` with that level's shapes.

    With ``all_datasets`` every dataset is held to ``level`` (as if the whole
    graph were submitted to the EU validator as that level).
    """
    by_level = _datasets_by_level(data)
    if all_datasets:
        mine: set = set().union(*by_level.values())
        others: set = set()
    else:
        mine = by_level.get(level, set())
        others = set().union(*(v for k, v in by_level.items() if k is not level))
    owned = _reachable(data, mine, others)
    owned_by_others = _reachable(data, others, mine) - owned
    described = set(data.subjects())
    referenced = {
        o
        for s, o in data.subject_objects()
        if s not in owned_by_others and isinstance(o, URIRef | BNode)
    }
    vocab = load_vocabularies()
    in_vocabulary = set(vocab.subjects())
    merged = data + vocab
    _, report, _ = validate(
        merged,
        shacl_graph=load_shapes(level, recommended),
        inference="none",
        advanced=True,
        allow_warnings=True,
    )
    out = LevelReport(level=level, datasets=len(mine))
    for result in report.subjects(RDF.type, SH.ValidationResult):
        if (None, SH.detail, result) in report:
            continue  # pySHACL's explanation of an sh:node result, not a result of its own
        focus = report.value(result, SH.focusNode)
        if focus in owned_by_others:
            continue
        if focus not in described and not (focus in referenced and focus not in in_vocabulary):
            out.vocabulary_side += 1
            continue
        path = report.value(result, SH.resultPath)
        out.findings.append(
            Finding(
                focus=str(focus),
                path=None if path is None or isinstance(path, BNode) else str(path),
                message=str(report.value(result, SH.resultMessage) or ""),
                severity=str(report.value(result, SH.resultSeverity)).rsplit("#", 1)[-1],
            )
        )
    return out


def read_export(path: Path) -> Graph:
    """Parse an export, or say which file is missing or broken and what to do."""
    if not path.exists():
        raise UserError(
            f"{path}: no HealthDCAT-AP export here; write it with `regionlab catalog export dcat`"
        )
    try:
        return Graph().parse(path, format="turtle")
    except Exception as exc:  # rdflib raises several parser exception types
        raise UserError(f"{path}: not valid Turtle ({type(exc).__name__})") from None


def validate_export(path: Path, *, recommended: bool = True) -> list[LevelReport]:
    """Validate every access level present in the export at ``path``."""
    data = read_export(path)
    levels = _datasets_by_level(data)
    if not levels:
        raise UserError(f"{path}: holds no dcat:Dataset; is it a HealthDCAT-AP export?")
    return [
        validate_graph(data, level, recommended=recommended)
        for level in AccessLevel
        if level in levels
    ]
