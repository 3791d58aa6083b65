"""The queue manager: what to deliver next (scheduler), when to retry
(retry), how each attempt is logged (status_log). All pure: they take
``now`` and never read a clock, touch the spool or open a socket; the
asyncio service in :mod:`mailflow.services.qmgr` drives them.
"""
