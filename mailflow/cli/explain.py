"""``mailflow explain [--sender S] [--json] ADDRESS...``: show how recipients
would be rewritten, expanded and routed, without sending anything; with
``--smtpd [--client IP] [--client-name NAME] [--helo NAME] [--sender S]``,
show instead how smtpd's restrictions would answer each ``RCPT TO``.

This module owns the command line only; the answers come from
:mod:`mailflow.address.explain` and :mod:`mailflow.smtpd.restrictions`.
Exit 0 when every address was explained, EX_DATAERR (65) for an address
that does not parse, EX_USAGE (64) for bad flags.
"""

from __future__ import annotations

import sys

from mailflow.errors import AddressError

HELP = "show how recipients would be rewritten and routed"

USAGE = ("usage: mailflow explain [--sender ADDRESS] [--json] ADDRESS...\n"
         "       mailflow explain --smtpd [--client IP] [--client-name NAME] [--helo NAME]\n"
         "                        [--sender ADDRESS] [--json] RCPT...")

# What `mailflow explain --help` prints: the usage and every option.
HELP_TEXT = USAGE + """

Show what the mail system would do with each ADDRESS, without sending
anything: canonical mapping, virtual alias expansion, alias_maps expansion
for local recipients, and the address class, transport and nexthop that
routing picks. Reads main.cf and master.cf of the configuration directory
(mailflow -c DIR).

Options:
  --sender ADDRESS, -f ADDRESS
                  the envelope sender, for routing that depends on it (with
                  --smtpd: the MAIL FROM of the simulated session);
                  "" or <> is the null sender
  --json          one JSON object per address instead of text
  --smtpd         show how smtpd's restrictions (smtpd_*_restrictions)
                  would answer RCPT TO for each RCPT, step by step
  --client IP     with --smtpd: the client's IP address (127.0.0.1)
  --client-name NAME
                  with --smtpd: the client's verified host name (unknown)
  --helo NAME     with --smtpd: the HELO/EHLO name (none given)
  -h, --help      show this text

Options with a value also take --option=VALUE. Exit status: 0 when every
address was explained, 65 for an address that does not parse, 64 for a
bad option."""

# --smtpd options that take a value, and the attribute each sets.
_SMTPD_OPTIONS = {"--client": "client", "--client-name": "client_name", "--helo": "helo"}


def run(argv: list[str], ctx) -> int:
    from mailflow.cli.main import EX_DATAERR, EX_USAGE
    from mailflow.address.explain import explain_report, parse_explain_address

    sender: str | None = None
    as_json = False
    smtpd = False
    smtpd_values: dict[str, str] = {}
    addresses: list[str] = []
    args = list(argv)
    while args:
        arg = args.pop(0)
        if arg in ("-h", "--help"):
            print(HELP_TEXT)
            return 0
        if arg == "--json":
            as_json = True
        elif arg == "--smtpd":
            smtpd = True
        elif arg.split("=", 1)[0] in _SMTPD_OPTIONS:
            name, eq, value = arg.partition("=")
            if not eq:
                if not args:
                    print(f"mailflow/explain: {arg} needs a value\n{USAGE}", file=sys.stderr)
                    return EX_USAGE
                value = args.pop(0)
            smtpd_values[_SMTPD_OPTIONS[name]] = value
        elif arg in ("--sender", "-f"):
            if not args:
                print(f"mailflow/explain: {arg} needs an address\n{USAGE}", file=sys.stderr)
                return EX_USAGE
            sender = args.pop(0)
        elif arg.startswith("--sender="):
            sender = arg.split("=", 1)[1]
        elif arg == "--":
            addresses.extend(args)
            args = []
        elif arg.startswith("-") and len(arg) > 1:
            print(f"mailflow/explain: unknown option {arg}\n{USAGE}", file=sys.stderr)
            return EX_USAGE
        else:
            addresses.append(arg)
    if not addresses:
        print(USAGE, file=sys.stderr)
        return EX_USAGE
    if smtpd_values and not smtpd:
        print(f"mailflow/explain: {', '.join('--' + k.replace('_', '-') for k in smtpd_values)}"
              f" needs --smtpd\n{USAGE}", file=sys.stderr)
        return EX_USAGE
    if smtpd:
        return _run_smtpd(ctx, addresses, sender, smtpd_values, as_json)
    try:
        internal = [parse_explain_address(a) for a in addresses]
        if sender is not None:
            sender = parse_explain_address(sender) if sender not in ("", "<>") else ""
    except AddressError as exc:
        print(f"mailflow/explain: fatal: {exc}", file=sys.stderr)
        return EX_DATAERR
    report = explain_report(ctx.load_config(), internal, sender, as_json=as_json)
    if report:
        print(report)
    return 0


def _run_smtpd(ctx, addresses: list[str], sender: str | None, values: dict[str, str],
               as_json: bool) -> int:
    import ipaddress
    import json

    from mailflow.address.explain import parse_explain_address
    from mailflow.cli.main import EX_DATAERR, EX_USAGE
    from mailflow.smtpd.explain import explain_smtpd, render_text

    client = values.get("client", "127.0.0.1")
    try:
        ipaddress.ip_address(client.strip("[]"))
    except ValueError:
        print(f"mailflow/explain: --client {client}: not an IP address\n{USAGE}", file=sys.stderr)
        return EX_USAGE
    try:
        rcpts = [a if a.lower() == "postmaster" else parse_explain_address(a) for a in addresses]
        if sender is not None:
            sender = parse_explain_address(sender) if sender not in ("", "<>") else ""
    except AddressError as exc:
        print(f"mailflow/explain: fatal: {exc}", file=sys.stderr)
        return EX_DATAERR
    from mailflow.adapters.policy_client import run_with_client
    cfg = ctx.load_config()
    results = run_with_client(
        lambda policy: explain_smtpd(cfg, rcpts, client=client.strip("[]"),
                                     client_name=values.get("client_name", "unknown"),
                                     helo=values.get("helo"), sender=sender,
                                     dns=_resolver(cfg), policy_client=policy),
        queue_directory=cfg.get("queue_directory") or ".")
    if as_json:
        for obj in results:
            print(json.dumps(obj, sort_keys=False))
    else:
        print(render_text(results))
    return 0


def _resolver(cfg):
    """The DNS resolver the daemon would use, when the DNS adapter offers one
    (``mailflow.adapters.dns.resolver_from_config``); None otherwise, and
    restrictions that need DNS then answer 451 4.3.5 in the trace."""
    import importlib
    try:
        module = importlib.import_module("mailflow.adapters.dns")
    except ImportError:
        return None
    factory = getattr(module, "resolver_from_config", None)
    return factory(cfg) if callable(factory) else None
