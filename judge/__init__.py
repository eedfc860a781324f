"""The judge: comparison jobs and their runner (inline in the proxy or in `tapcompare worker`), read
rechecks, where verdicts go (recording), and stream mode's codec, publisher and consumer loop."""
