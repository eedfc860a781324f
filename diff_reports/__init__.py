"""Normalisation, comparison, verdicts, results, grouping and reports. The comparison core is pure."""
