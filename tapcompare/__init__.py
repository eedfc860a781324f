"""The `tapcompare` command: the composition root that wires the packages together."""
