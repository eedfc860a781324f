"""Comparison jobs on a Redis Stream: codec, publisher (proxy side), worker, backlog monitor."""
