"""Key rotation: re-key every product, the suppression list, labels and workspaces at once.

See :mod:`regionlab.rotation.rotate` for the order and why a crash is safe.
"""

from regionlab.rotation.rotate import RotationReport, rotate

__all__ = ["RotationReport", "rotate"]
