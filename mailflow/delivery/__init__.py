"""Delivery agents: local, virtual, pipe, discard, error and retry, and the
registry by which the queue manager (or a user) finds them by name.

Every agent implements :class:`mailflow.interfaces.DeliveryAgent`: ``await
agent.deliver(request)`` returns one :class:`mailflow.model.Outcome` per
recipient, 2.x.x delivered, 4.x.x deferred, 5.x.x bounced. Agents only
deliver and report; the queue manager schedules, logs and keeps the books.

>>> sorted(set(agent_names()) & {"discard", "error", "local", "pipe", "retry", "virtual"})
['discard', 'error', 'local', 'pipe', 'retry', 'virtual']
"""

from mailflow.delivery.registry import (
    AgentFactory, ServiceEntry, agent_factory, agent_names, create_agent,
    register_agent, unregister_agent,
)

__all__ = ["AgentFactory", "ServiceEntry", "agent_factory", "agent_names", "create_agent",
           "register_agent", "unregister_agent"]
