"""The proxy (the serving process): forwarding to the legacy, the bounded shadow queue, the shadow
side of an exchange, thread order, ramp, admin API, kill switch, audit and live capture."""
