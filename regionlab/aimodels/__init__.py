"""Local validation and monitoring of the region's AI models (model cards, metrics, drift).

Core layer: scikit-learn, Fairlearn, NumPy and matplotlib only; the CLI, Dagster and
the catalogue call into it.
"""
