"""Production-derived datasets: a seed snapshot plus an ordered request log (format: docs/dataset-format.md)."""
