"""Delivery agents: local, virtual, pipe, discard, error and retry, and the
registry by which the queue manager (or a user) finds them by name.

Every agent implements :class:`mailflow.interfaces.DeliveryAgent`: ``await
agent.deliver(request)`` returns one :class:`mailflow.model.Outcome` per
recipient, 2.x.x delivered, 4.x.x deferred, 5.x.x bounced. Agents only
deliver and report; the queue manager schedules, logs and keeps the books.
The agent classes are imported on first use, so importing this package
stays cheap.

>>> sorted(set(agent_names()) & {"discard", "error", "local", "pipe", "retry", "virtual"})
['discard', 'error', 'local', 'pipe', 'retry', 'virtual']
>>> from mailflow.delivery import VirtualAgent
>>> VirtualAgent.relay
'virtual'
"""

from __future__ import annotations

import importlib
from typing import Any

from mailflow.delivery.registry import (
    AgentFactory, ServiceEntry, agent_factory, agent_names, create_agent,
    register_agent, unregister_agent,
)

_LAZY = {
    "LocalAgent": "mailflow.delivery.local",
    "VirtualAgent": "mailflow.delivery.virtual",
    "PipeAgent": "mailflow.delivery.pipe",
    "DiscardAgent": "mailflow.delivery.trivial",
    "ErrorAgent": "mailflow.delivery.trivial",
    "RetryAgent": "mailflow.delivery.trivial",
    "LocalUser": "mailflow.delivery.users",
    "UserDatabase": "mailflow.delivery.users",
    "PasswdUsers": "mailflow.delivery.users",
    "TableUsers": "mailflow.delivery.users",
    "plan_local": "mailflow.delivery.local_expand",
}

__all__ = ["AgentFactory", "ServiceEntry", "agent_factory", "agent_names", "create_agent",
           "register_agent", "unregister_agent", *_LAZY]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'mailflow.delivery' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
