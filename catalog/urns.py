"""Every URN regionlab emits, in one place, so all modules agree on names.

Published products are DuckDB tables ``regionlab.lake.<domain>.<product>``;
source extracts live on their source system's platform as ``<system>.<extract>``.
"""

from __future__ import annotations

from datahub.emitter import mce_builder as b

from regionlab.spec import Product

PLATFORM = "duckdb"
ENV = "PROD"
LAKE_PREFIX = "regionlab.lake"
ORCHESTRATOR = "dagster"
FLOW_ID = "regionlab"
QUALITY_PLATFORM = "great-expectations"


def product_dataset_name(domain: str, product: str) -> str:
    return f"{LAKE_PREFIX}.{domain}.{product}"


def product_dataset(product: Product | str) -> str:
    """URN of a published product's table; takes a Product or a `domain/product` ref."""
    domain, name = _split(product)
    return b.make_dataset_urn(PLATFORM, product_dataset_name(domain, name), ENV)


#: The platform of a streaming product's source: the broker topic it is fed by.
STREAM_PLATFORM = "rabbitmq"


def source_dataset(product: Product) -> str:
    """The raw source of a product: a system's extract, or a streaming product's topic."""
    if product.stream is not None:
        return b.make_dataset_urn(STREAM_PLATFORM, product.stream.topic, ENV)
    assert product.source is not None
    return b.make_dataset_urn(
        product.source.system, f"{product.source.system}.{product.source.extract}", ENV
    )


def platform(name: str) -> str:
    return b.make_data_platform_urn(name)


def domain(domain_id: str) -> str:
    return b.make_domain_urn(domain_id)


def data_product(product: Product | str) -> str:
    domain_id, name = _split(product)
    return b.make_data_product_urn(f"{domain_id}.{name}")


def user(email: str) -> str:
    """Owners are corpusers named by the local part of their e-mail address."""
    return b.make_user_urn(email.split("@", 1)[0].lower())


def classification_tag(classification: str) -> str:
    return b.make_tag_urn(f"classification:{classification}")


def code_system_tag(code_system: str) -> str:
    """Tag of a column's code system (SKS, NPU, ATC, municipalities)."""
    return b.make_tag_urn(f"code_system:{code_system}")


def glossary_node(node_id: str) -> str:
    return f"urn:li:glossaryNode:{node_id}"


def glossary_term(term_id: str) -> str:
    return b.make_term_urn(term_id)


def flow() -> str:
    return b.make_data_flow_urn(ORCHESTRATOR, FLOW_ID, ENV)


def job(product: Product | str) -> str:
    domain_id, name = _split(product)
    return b.make_data_job_urn_with_flow(flow(), f"{domain_id}.{name}")


def run_instance(run_id: str, product: Product | str) -> str:
    domain_id, name = _split(product)
    return b.make_data_process_instance_urn(f"{run_id}.{domain_id}.{name}")


def assertion(product: Product | str, check: str) -> str:
    domain_id, name = _split(product)
    return b.make_assertion_urn(f"regionlab.{domain_id}.{name}.{check}")


def data_contract(product: Product | str) -> str:
    domain_id, name = _split(product)
    return f"urn:li:dataContract:regionlab.{domain_id}.{name}"


def schema_field(dataset_urn: str, column: str) -> str:
    return b.make_schema_field_urn(dataset_urn, column)


def structured_property(qualified_name: str) -> str:
    return f"urn:li:structuredProperty:{qualified_name}"


def application(initiative_id: str) -> str:
    return f"urn:li:application:{initiative_id}"


def _split(product: Product | str) -> tuple[str, str]:
    if isinstance(product, Product):
        return product.domain, product.id
    domain_id, _, name = product.partition("/")
    return domain_id, name
