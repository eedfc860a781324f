"""The rewritten comments service. Never imports legacy_adapter: a shared codec would make parity trivially true."""
