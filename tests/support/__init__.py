"""Test helpers shared across suites (real servers, never mocks)."""
