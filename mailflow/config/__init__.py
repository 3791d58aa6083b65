"""Configuration: main.cf parameters with Postfix names, defaults and ``$name``
expansion, plus the master.cf service table.

This package owns reading and interpreting configuration text; it never
writes files (``postconf -e`` editing is :mod:`mailflow.config.edit` plus
the CLI) and never starts services. Names are imported when first used
(:pep:`562`), so that a submodule such as :mod:`mailflow.config.quick` can be
imported without loading the parameter table.

>>> from mailflow.config import Config
>>> cfg = Config(myhostname="mx.example.com", mydomain="example.com")
>>> cfg.myorigin
'mx.example.com'
>>> cfg.maximal_queue_lifetime
432000
>>> cfg.mydestination
['mx.example.com', 'localhost.example.com', 'localhost']
>>> Config.from_string("relay_host = x\\n", log_warnings=False).warnings
['main.cf, line 1: unknown parameter "relay_host"; did you mean "relayhost"? (ignored)']
"""

from __future__ import annotations

import importlib
from typing import Any

# name -> module that defines it; imported on first use.
_EXPORTS: dict[str, str] = {
    "Config": "mailflow.config.core", "DEFAULT_CONFIG_DIR": "mailflow.config.quick",
    "default_config": "mailflow.config.core", "find_config_dir": "mailflow.config.quick",
    "transport_suffix": "mailflow.config.core",
    "unknown_parameter_warning": "mailflow.config.core",
    "Entry": "mailflow.config.main_cf", "parse_main_cf": "mailflow.config.main_cf",
    "MasterConfig": "mailflow.config.master_cf", "Service": "mailflow.config.master_cf",
    "parse_master_cf": "mailflow.config.master_cf",
    "PARAMS": "mailflow.config.params", "Kind": "mailflow.config.params",
    "Param": "mailflow.config.params",
    "parse_time": "mailflow.config.values", "split_list": "mailflow.config.values",
    "ConfigError": "mailflow.errors", "ExpansionLoopError": "mailflow.errors",
}

__all__ = ["Config", "ConfigError", "DEFAULT_CONFIG_DIR", "Entry", "ExpansionLoopError",
           "Kind", "MasterConfig", "PARAMS", "Param", "Service", "default_config", "find_config_dir",
           "parse_main_cf", "parse_master_cf", "parse_time", "split_list", "transport_suffix",
           "unknown_parameter_warning"]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'mailflow.config' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value          # the next access is a plain lookup
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
