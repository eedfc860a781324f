"""Typed settings for every tapcompare component: TOML file plus TAPCOMPARE_* overrides."""

from config.errors import ConfigError
from config.loading import load_settings, settings_from_mapping
from config.settings import (
    LegacySettings,
    NewServiceSettings,
    ProxySettings,
    ReportSettings,
    Settings,
    StoreSetSettings,
    StoresSettings,
)

__all__ = [
    "ConfigError",
    "LegacySettings",
    "NewServiceSettings",
    "ProxySettings",
    "ReportSettings",
    "Settings",
    "StoreSetSettings",
    "StoresSettings",
    "load_settings",
    "settings_from_mapping",
]
