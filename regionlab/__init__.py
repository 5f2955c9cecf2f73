"""regionlab core: specs, lake, privacy, research, erasure and synthetic sources.

This package imports no orchestration, catalogue or labelling library, so it can
be used from notebooks and tools without pulling in Dagster or DataHub.
"""

__version__ = "0.1.0"
