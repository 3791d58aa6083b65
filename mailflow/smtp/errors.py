"""The SMTP engine's exceptions.

::

    MailflowError
    └── SmtpError
        ├── SmtpProtocolError   the peer sent something that is not SMTP (a garbled
        │                       reply, a reply over the size limits, bytes after close)
        └── ParameterError      a MAIL FROM/RCPT TO parameter that the server refuses;
                                carries the Reply to send (``555 5.5.4 Unsupported option: FOO``)

Nothing here does I/O; the classes only carry what the caller needs to
answer or to log.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mailflow.errors import MailflowError

if TYPE_CHECKING:
    from mailflow.smtp.reply import Reply

__all__ = ["SmtpError", "SmtpProtocolError", "ParameterError"]


class SmtpError(MailflowError):
    """Base class of the SMTP engine's errors."""


class SmtpProtocolError(SmtpError):
    """The peer broke the protocol; the session cannot safely go on.

    >>> str(SmtpProtocolError("reply line without a code: 'hello'"))
    "reply line without a code: 'hello'"
    """


class ParameterError(SmtpError, ValueError):
    """An ESMTP parameter the server refuses, with Postfix's reply for it.

    >>> from mailflow.smtp.reply import Reply
    >>> e = ParameterError(Reply.of(555, "Unsupported option: FOO", "5.5.4"))
    >>> str(e)
    '555 5.5.4 Unsupported option: FOO'
    >>> e.reply.code
    555
    """

    def __init__(self, reply: "Reply") -> None:
        self.reply = reply
        super().__init__(str(reply))
