"""Every parameter mailflow implements, once: name, Postfix default, type.

This table is the single source for defaults: ``postconf -d``, the typed
config view and the reference docs are all generated from it. Defaults are
Postfix 3.7's at ``compatibility_level = 3.6``; deliberate differences are
marked ``differs=`` with the reason (and listed in docs/reference/differences.md).
"""

from __future__ import annotations

import enum

import attrs


class Kind(enum.Enum):
    STR = "string"
    LIST = "list"        # separated by commas and/or whitespace
    INT = "integer"
    BOOL = "boolean"     # yes/no
    TIME = "time"        # number + unit s/m/h/d/w; see Param.unit
    SIZE = "size"        # bytes


@attrs.frozen
class Param:
    name: str
    default: str
    kind: Kind = Kind.STR
    unit: str = "s"            # default unit for TIME values
    doc: str = ""
    differs: str = ""          # why mailflow's default is not Postfix's


def _p(name: str, default: str, kind: Kind = Kind.STR, **kw) -> Param:
    return Param(name, default, kind, **kw)


S, L, I, B, T, Z = Kind.STR, Kind.LIST, Kind.INT, Kind.BOOL, Kind.TIME, Kind.SIZE

_TABLE: list[Param] = [
    _p("compatibility_level", "0", doc="Backwards-compatibility level."),
    _p("config_directory", "/etc/mailflow"),
    _p("queue_directory", "/var/spool/mailflow"),
    _p("myhostname", "localhost.localdomain"),
    _p("mydomain", "localdomain"),
    _p("myorigin", "$myhostname"),
    _p("mydestination", "$myhostname, localhost.$mydomain, localhost", L),
    _p("mynetworks", "127.0.0.0/8 [::1]/128", L),
    _p("relayhost", ""),
    _p("recipient_delimiter", ""),
    _p("message_size_limit", "10240000", Z),
    _p("maximal_queue_lifetime", "5d", T, unit="d"),
    _p("bounce_queue_lifetime", "5d", T, unit="d"),
    _p("minimal_backoff_time", "300s", T),
    _p("maximal_backoff_time", "4000s", T),
    _p("queue_run_delay", "300s", T),
    _p("append_dot_mydomain", "no", B),
    _p("syslog_name", "mailflow", differs="Postfix logs as 'postfix'; mailflow names itself."),
    _p("maillog_file", ""),
    _p("smtpd_forbid_bare_newline", "normalize",
       differs="Postfix 3.7 has no such setting (3.9 defaults to normalize): "
               "never open to SMTP smuggling out of the box."),
]

PARAMS: dict[str, Param] = {p.name: p for p in _TABLE}

# Per-transport parameters: TRANSPORT_<suffix> falls back to default_<suffix>.
TRANSPORT_SUFFIXES: dict[str, Kind] = {
    "destination_concurrency_limit": I,
    "destination_recipient_limit": I,
    "destination_rate_delay": T,
    "initial_destination_concurrency": I,
    "destination_concurrency_positive_feedback": S,
    "destination_concurrency_negative_feedback": S,
    "destination_concurrency_failed_cohort_limit": I,
    "time_limit": T,
}
