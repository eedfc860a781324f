"""Import recorded HTTP traffic (GoReplay `.gor`, HAR 1.2) as dataset request logs."""
