"""One module per command group of the `tapcompare` console script."""
