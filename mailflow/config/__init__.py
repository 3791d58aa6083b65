"""Configuration: main.cf parameters with Postfix names, defaults and ``$name``
expansion, plus the master.cf service table.

This package owns reading and interpreting configuration text; it never
writes files (``postconf -e`` editing is :mod:`mailflow.config.edit` plus
the CLI) and never starts services.

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

from mailflow.config.core import (DEFAULT_CONFIG_DIR, Config, default_config, find_config_dir,
                                  transport_suffix, unknown_parameter_warning)
from mailflow.config.main_cf import Entry, parse_main_cf
from mailflow.config.master_cf import MasterConfig, Service, parse_master_cf
from mailflow.config.params import PARAMS, Kind, Param
from mailflow.config.values import parse_time, split_list
from mailflow.errors import ConfigError, ExpansionLoopError

__all__ = ["Config", "ConfigError", "DEFAULT_CONFIG_DIR", "Entry", "ExpansionLoopError",
           "Kind", "MasterConfig", "PARAMS", "Param", "Service", "default_config", "find_config_dir",
           "parse_main_cf", "parse_master_cf", "parse_time", "split_list", "transport_suffix",
           "unknown_parameter_warning"]
