"""Reports from the results store: one JSON-able report dict, rendered as JSON, Markdown, JUnit
XML or one self-contained HTML file."""
