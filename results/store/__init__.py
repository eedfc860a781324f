"""The results store: schema migrations, batched writes, queries for the UI and exports, lifecycle."""
