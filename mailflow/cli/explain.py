"""``mailflow explain [--sender S] [--json] ADDRESS...``: show how recipients
would be rewritten, expanded and routed, without sending anything.

This module owns the command line only; the answer comes from
:mod:`mailflow.address.explain`. Exit 0 when every address was explained,
EX_DATAERR (65) for an address that does not parse, EX_USAGE (64) for bad
flags.
"""

from __future__ import annotations

import sys

from mailflow.errors import AddressError

HELP = "show how recipients would be rewritten and routed"

USAGE = "usage: mailflow explain [--sender ADDRESS] [--json] ADDRESS..."


def run(argv: list[str], ctx) -> int:
    from mailflow.cli.main import EX_DATAERR, EX_USAGE
    from mailflow.address.explain import explain_report, parse_explain_address

    sender: str | None = None
    as_json = False
    addresses: list[str] = []
    args = list(argv)
    while args:
        arg = args.pop(0)
        if arg in ("-h", "--help"):
            print(USAGE)
            return 0
        if arg == "--json":
            as_json = True
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
