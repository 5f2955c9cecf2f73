"""Local validation and monitoring of the region's AI models (model cards, metrics, drift).

Core layer: scikit-learn, Fairlearn, NumPy and matplotlib only; the CLI, Dagster and
the catalogue call into it.
"""

#: The file a model's saved validation test set is kept in (``models/<model>/``). Here, not
#: in ``testsets``, so an erasure can find test sets without importing scikit-learn.
TEST_SET_FILE = "test_set.json"
