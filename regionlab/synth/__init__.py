"""Synthetic source systems of the region: CPR register, LPR3, LABKA, FMK, EPJ, initiatives.

No real data is available or wanted; ``generate`` writes the extracts described in
``notes/sources.md`` at any scale, deterministically from a seed, with labelled
defects for the quarantine and quality checks to find.
"""

from regionlab.synth.generate import Manifest, generate

__all__ = ["Manifest", "generate"]
