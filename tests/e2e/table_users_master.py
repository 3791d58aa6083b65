"""Run the mail system in the foreground with local(8) users from a JSON table.

main.cf has no parameter that gives local(8) a table of users instead of
the system password database, so this program does what an application
embedding mailflow does: register the ``local`` agent built with
:class:`~mailflow.delivery.users.TableUsers`, then run the ``mailflow``
command line (``start-fg``) in the same process.

usage: python table_users_master.py USERS.json -c CONFIG_DIR start-fg [--ready-fd N]
"""

from __future__ import annotations

import json
import sys

from mailflow.cli.main import main
from mailflow.delivery.local import LocalAgent
from mailflow.delivery.registry import register_agent


def run(argv: list[str]) -> int:
    with open(argv[0], encoding="utf-8") as f:
        users = json.load(f)      # {"name": "/home/dir", ...}
    register_agent("local", lambda cfg, service, **hooks:
                   LocalAgent(cfg, service, users=users, **hooks))
    return main(argv[1:])


if __name__ == "__main__":
    sys.exit(run(sys.argv[1:]))
