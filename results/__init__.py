"""Results: the results store, mismatch groups and their lifecycle, the reviewer UI, the exports."""
