"""Safe defaults: a server other machines can reach must not run on a built-in secret.

The defaults in `config.settings` make a laptop set-up work with no file at all. Bound to a
loopback address that is harmless; bound to 0.0.0.0, :: or a LAN address it would hand the admin
API, the reviewer UI or the rewrite's identity headers to anyone who has read the README.
"""

from __future__ import annotations

import ipaddress
import socket
from typing import cast

from config.settings import Settings

# The secrets each serving component uses, as dotted settings keys.
SECRETS_BY_COMPONENT: dict[str, tuple[str, ...]] = {
    "legacy": (),
    "consume": (),
    "new-tap": ("new_service.tap_secret",),
    "new-primary": (),  # primary mode refuses every X-Tap-* header, so the secret is unused
    "proxy": ("proxy.admin_token", "new_service.tap_secret"),
    "worker": (),  # /health, /ready and /metrics only
    "report": ("reports.token",),
}


def _default_of(settings: Settings, key: str) -> object:
    section, field = key.split(".")
    return type(getattr(settings, section)).model_fields[field].default


def builtin_secrets(settings: Settings) -> set[str]:
    """Every built-in default secret value (a named admin token set to one of them is no better)."""
    keys = {k for keys in SECRETS_BY_COMPONENT.values() for k in keys}
    return {str(_default_of(settings, key)) for key in keys}


def is_loopback_host(host: str) -> bool:
    """True when `host` only accepts connections from this machine (127.0.0.0/8, ::1, localhost).

    An empty host means every interface to aiohttp; a name that does not resolve counts as
    reachable from elsewhere, so the rule errs on the safe side."""
    name = host.strip().strip("[]")
    if not name:
        return False
    try:
        addrs = {name}
        ipaddress.ip_address(name.split("%")[0])
    except ValueError:
        try:
            # An IPv4/IPv6 sockaddr starts with the address as a str; typeshed widens it to str | int.
            addrs = {cast(str, info[4][0]) for info in socket.getaddrinfo(name, None)}
        except (socket.gaierror, UnicodeError):
            return False
    for addr in addrs:
        ip = ipaddress.ip_address(addr.split("%")[0])
        mapped = getattr(ip, "ipv4_mapped", None)
        if not (ip.is_loopback or (mapped is not None and mapped.is_loopback)):
            return False
    return bool(addrs)


def default_secrets_in_use(settings: Settings, component: str, host: str | None) -> list[str]:
    """The keys of the secrets `component` uses that still hold their built-in default, when it
    listens on `host` and `host` is not a loopback address; [] when it is safe to start."""
    if component not in SECRETS_BY_COMPONENT:
        raise ValueError(f"unknown component {component!r}; expected one of {', '.join(SECRETS_BY_COMPONENT)}")
    if host is None or is_loopback_host(host):
        return []
    found = []
    for key in SECRETS_BY_COMPONENT[component]:
        section, field = key.split(".")
        if getattr(getattr(settings, section), field) == _default_of(settings, key):
            found.append(key)
    if component == "proxy":
        defaults = builtin_secrets(settings)
        found += [f"proxy.admin_tokens.{name}" for name, token in sorted(settings.proxy.admin_tokens.items())
                  if token in defaults]
    return found


def env_name(key: str) -> str:
    """The TAPCOMPARE_* variable that overrides a dotted key (proxy.admin_token -> TAPCOMPARE_PROXY__ADMIN_TOKEN)."""
    return "TAPCOMPARE_" + "__".join(part.upper() for part in key.split("."))
