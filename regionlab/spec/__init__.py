"""Product specs: the steward-owned YAML under ``domains/`` as pydantic models.

The spec is the spine of regionlab: pipelines, quality suites, catalogue
metadata, labelling projects and research permits are all projections of it.
"""

from regionlab.spec.loader import SpecProblem, load_domains
from regionlab.spec.models import (
    Column,
    Domain,
    Product,
    PublishedColumn,
    QualityRule,
    Registry,
)

__all__ = [
    "Column",
    "Domain",
    "Product",
    "PublishedColumn",
    "QualityRule",
    "Registry",
    "SpecProblem",
    "load_domains",
]
