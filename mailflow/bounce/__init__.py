"""Delivery status notices: templates (bounce(5)) and RFC 3464 composition.

Pure: :func:`compose_notice` turns a message and its per-recipient outcomes
into a new envelope and message; the queue manager hands that to cleanup
like any other mail.
"""

from mailflow.bounce.dsn import NoticeKind, compose_notice
from mailflow.bounce.templates import Template, load_templates

__all__ = ["NoticeKind", "compose_notice", "Template", "load_templates"]
