"""The legacy comment backend (an r2-style monolith), its client, and the legacy readers."""
