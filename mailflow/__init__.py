"""mailflow: Postfix's architecture as a pure-Python library.

This module owns the public surface only: the names a user imports, listed
in ``__all__``, each re-exported from the module that implements it. It
holds no code of its own, and it imports nothing until a name is used
(:pep:`562` module ``__getattr__``), so that ``import mailflow`` costs
nothing and commands like ``sendmail`` start fast; the one exception is
:mod:`mailflow.submit` (standard library imports only), see below.

>>> import mailflow
>>> cfg = mailflow.Config(myhostname="mx.example.com", mydestination="")
>>> [e.transport for e in mailflow.explain("bob@example.net", cfg)]
['smtp']
>>> mailflow.DsnStatus.parse("5.1.1").is_permanent
True

Test helpers (fake clock, fake DNS, recording agents, an in-memory mail
system) are in :mod:`mailflow.testing`.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

# name -> module that implements it. Kept as text so nothing is imported
# before it is asked for (the services pull in asyncio).
_EXPORTS: dict[str, str] = {
    # values
    "DsnStatus": "mailflow.model",
    "Notify": "mailflow.model",
    "Ret": "mailflow.model",
    "RecipientState": "mailflow.model",
    "Recipient": "mailflow.model",
    "ClientInfo": "mailflow.model",
    "Envelope": "mailflow.model",
    "Message": "mailflow.model",
    "Outcome": "mailflow.model",
    "DeliveryRequest": "mailflow.model",
    # errors
    "MailflowError": "mailflow.errors",
    "ConfigError": "mailflow.errors",
    "ExpansionLoopError": "mailflow.errors",
    "AddressError": "mailflow.errors",
    "TableError": "mailflow.errors",
    "TableSyntaxError": "mailflow.errors",
    "QueueError": "mailflow.errors",
    "BadQueueIdError": "mailflow.errors",
    "QueueFileCorrupt": "mailflow.errors",
    "QueueIdInUse": "mailflow.errors",
    "NoSuchMessage": "mailflow.errors",
    "DeliveryFailure": "mailflow.errors",
    "TemporaryFailure": "mailflow.errors",
    "PermanentFailure": "mailflow.errors",
    # extension points
    "Table": "mailflow.interfaces",
    "Clock": "mailflow.interfaces",
    "QueueName": "mailflow.interfaces",
    "QueuedMessage": "mailflow.interfaces",
    "QueueStore": "mailflow.interfaces",
    "DeliveryAgent": "mailflow.interfaces",
    "DnsResolver": "mailflow.interfaces",
    # configuration and tables
    "Config": "mailflow.config",
    "open_table": "mailflow.tables",
    "register_table_type": "mailflow.tables",
    # addresses and routing
    "TrivialRewrite": "mailflow.address.resolve",
    "Resolution": "mailflow.address.resolve",
    "explain": "mailflow.address.explain",
    "ExplainEntry": "mailflow.address.explain",
    # cleanup
    "CleanupPipeline": "mailflow.cleanup",
    "CleanupResult": "mailflow.cleanup",
    "Verdict": "mailflow.cleanup",
    "header_rule": "mailflow.cleanup",
    "body_rule": "mailflow.cleanup",
    "CleanupService": "mailflow.services.cleanup",
    "CleanupReply": "mailflow.services.cleanup",
    # the queue
    "FileQueueStore": "mailflow.adapters.queue_store",
    "SqliteQueueStore": "mailflow.adapters.sqlite_queue_store",
    "MemoryQueueStore": "mailflow.queue.memory",
    "QueueManager": "mailflow.services.qmgr",
    # delivery and notices
    "register_agent": "mailflow.delivery.registry",
    "unregister_agent": "mailflow.delivery.registry",
    "create_agent": "mailflow.delivery.registry",
    "compose_notice": "mailflow.bounce",
    "NoticeKind": "mailflow.bounce",
    # submission, the daemon, logging
    "submit": "mailflow.submit",
    "submit_async": "mailflow.submit",
    "Master": "mailflow.services.master",
    "configure_logging": "mailflow.maillog",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'mailflow' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value          # the next access is a plain lookup
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


# ``submit`` and ``submit_async`` live in the module mailflow.submit. Python
# binds a submodule as an attribute of its package when it first loads it,
# so ``import mailflow.submit`` anywhere would turn ``mailflow.submit`` from
# the function into the module. Loading it here, once, and then binding the
# function settles it: a submodule already loaded is never bound again. It
# imports only the standard library (the rest lazily), so this stays cheap.
from mailflow.submit import submit, submit_async  # noqa: E402
