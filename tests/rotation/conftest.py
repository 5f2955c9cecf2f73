"""The erasure tests' small synthetic region (built through the real pipelines)."""

from tests.erasure.conftest import erasure_sources, platform  # noqa: F401
