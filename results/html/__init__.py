"""HTML of the results: the Jinja2 environment (autoescaped), its templates and assets, shared by the
reviewer UI and the HTML export."""
