"""bounce(5) templates: the human-readable part of each notice.

The defaults are Postfix's (``postconf -t``). ``bounce_template_file`` holds
replacements in the same ``name = <<EOF ... EOF`` syntax; each template has
header-like lines (``Charset:``, ``From:``, ``Subject:``,
``Postmaster-Subject:``), a blank line, then text in which ``$myhostname``,
``$delay_warning_time_hours`` (and ``_days``/``_minutes``/...),
``$maximal_queue_lifetime_days`` and other main.cf parameters are expanded
with main.cf's ``$name`` language (:func:`mailflow.config.expand.expand_value`;
bounce(5): the text "may contain $name references to main.cf parameters").

>>> t = load_templates()["failure_template"]
>>> t.subject
'Undelivered Mail Returned to Sender'
>>> t.render({"myhostname": "mx.example.com"}).splitlines()[0]
'This is the mail system at host mx.example.com.'
"""

from __future__ import annotations

import re
from typing import Mapping

import attrs

from mailflow.config.expand import expand_value
from mailflow.errors import ConfigError

_FOOTER = """
For further assistance, please send mail to postmaster.

If you do so, please include this problem report. You can
delete your own text from the attached returned message.

                   The mail system
"""

DEFAULT_TEMPLATES = {
    "failure_template": """\
Charset: us-ascii
From: Mail Delivery System <MAILER-DAEMON>
Subject: Undelivered Mail Returned to Sender
Postmaster-Subject: Postmaster Copy: Undelivered Mail

This is the mail system at host $myhostname.

I'm sorry to have to inform you that your message could not
be delivered to one or more recipients. It's attached below.
""" + _FOOTER,
    "delay_template": """\
Charset: us-ascii
From: Mail Delivery System <MAILER-DAEMON>
Subject: Delayed Mail (still being retried)
Postmaster-Subject: Postmaster Warning: Delayed Mail

This is the mail system at host $myhostname.

####################################################################
# THIS IS A WARNING ONLY.  YOU DO NOT NEED TO RESEND YOUR MESSAGE. #
####################################################################

Your message could not be delivered for more than $delay_warning_time_hours hour(s).
It will be retried until it is $maximal_queue_lifetime_days day(s) old.
""" + _FOOTER,
    "success_template": """\
Charset: us-ascii
From: Mail Delivery System <MAILER-DAEMON>
Subject: Successful Mail Delivery Report

This is the mail system at host $myhostname.

Your message was successfully delivered to the destination(s)
listed below. If the message was delivered to mailbox you will
receive no further notifications. Otherwise you may still receive
notifications of mail delivery errors from other systems.

                   The mail system
""",
    "verify_template": """\
Charset: us-ascii
From: Mail Delivery System <MAILER-DAEMON>
Subject: Mail Delivery Status Report

This is the mail system at host $myhostname.

Enclosed is the mail delivery report that you requested.

                   The mail system
""",
}

_TIME_SUFFIXES = {"seconds": 1, "minutes": 60, "hours": 3600, "days": 86400, "weeks": 604800}


@attrs.frozen
class Template:
    """One parsed template: its header lines and its text."""

    charset: str
    sender: str          # the From: line's value
    subject: str
    postmaster_subject: str
    text: str

    def render(self, params: Mapping[str, object]) -> str:
        """Expand ``$name``; ``$<time>_<unit>`` forms divide a time in seconds.

        >>> Template("us-ascii", "", "", "", "$$1 in ${d_hours} h, $unknown\\n").render({"d": 7200})
        '$1 in 2 h, $unknown\\n'
        """
        def lookup(name: str) -> str:
            if name in params:
                return str(params[name])
            # bounce_template.c: <parameter>_<unit> scales a time parameter.
            base, _, unit = name.rpartition("_")
            if unit in _TIME_SUFFIXES and base in params:
                return str(int(params[base]) // _TIME_SUFFIXES[unit])
            # XXX Postfix stops with "undefined $name in ... template"; a name
            # not passed in is left as written, so the notice still goes out.
            return f"${name}"
        # Line by line, as bounce_template_expand() calls mac_expand().
        return "\n".join(expand_value(line, lookup) for line in self.text.split("\n"))


def parse_template(text: str) -> Template:
    """One template: its header lines (Charset, From, Subject, Postmaster-Subject), an empty line, its text.

    >>> t = parse_template("Subject: Oops\\n\\nYour mail to $myhostname failed.\\n")
    >>> t.subject, t.postmaster_subject, t.charset, t.text
    ('Oops', 'Oops', 'us-ascii', 'Your mail to $myhostname failed.\\n')
    """
    head, _, body = text.partition("\n\n")
    fields = {}
    for line in head.splitlines():
        name, _, value = line.partition(":")
        fields[name.strip().lower()] = value.strip()
    subject = fields.get("subject", "")
    return Template(charset=fields.get("charset", "us-ascii"),
                    sender=fields.get("from", "Mail Delivery System <MAILER-DAEMON>"),
                    subject=subject,
                    postmaster_subject=fields.get("postmaster-subject", subject),
                    text=body)


def load_templates(file_text: str | None = None, filename: str = "bounce_template_file") -> dict[str, Template]:
    """The four templates: defaults, replaced by those in ``file_text``."""
    sources = dict(DEFAULT_TEMPLATES)
    if file_text:
        lines = file_text.splitlines()
        i = 0
        while i < len(lines):
            line = lines[i]
            i += 1
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            m = re.fullmatch(r"\s*(\w+)\s*=\s*<<\s*(\w+)\s*", line)
            if not m or m.group(1) not in DEFAULT_TEMPLATES:
                raise ConfigError("expected 'failure_template = <<EOF' (or delay_, success_, verify_)",
                                  filename=filename, lineno=i)
            name, marker, body = m.group(1), m.group(2), []
            while i < len(lines) and lines[i].strip() != marker:
                body.append(lines[i])
                i += 1
            if i >= len(lines):
                raise ConfigError(f"missing {marker} after {name}", filename=filename, lineno=i)
            i += 1
            sources[name] = "\n".join(body) + "\n"
    templates = {name: parse_template(text) for name, text in sources.items()}
    for name, template in templates.items():
        try:
            # Checked here, not when a notice is composed (bounce_template.c
            # would stop then with "bad $name syntax in ... template").
            template.render({})
        except ConfigError as exc:
            raise ConfigError(f"bad $name syntax in {name}: {exc.reason}",
                              filename=filename) from None
    return templates
