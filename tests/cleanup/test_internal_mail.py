"""Mail the system makes itself is inspected only per internal_mail_filter_classes."""

from mailflow.cleanup.pipeline import CleanupPipeline
from mailflow.config import Config
from mailflow.model import Envelope, Message, Recipient

NOTICE = Message(b"Subject: Undelivered Mail Returned to Sender\n\nSubject: buy now\n")


def pipeline(tmp_path, **params) -> CleanupPipeline:
    (tmp_path / "header_checks").write_text("/^Subject: Undelivered/ REJECT no\n")
    (tmp_path / "body_checks").write_text("/buy now/ REJECT no\n")
    return CleanupPipeline.from_config(Config(
        myhostname="mx.example.com", header_checks=f"regexp:{tmp_path}/header_checks",
        body_checks=f"regexp:{tmp_path}/body_checks", **params))


def test_notice_skips_header_and_body_checks_by_default(tmp_path):
    """A bounce notice is not rejected by header_checks or body_checks (Postfix's default: no classes)."""
    result = pipeline(tmp_path).process(Envelope("", (Recipient("a@example.com"),)), NOTICE,
                                origin="bounce", now=0.0)
    assert result.action == "queue"


def test_notice_is_inspected_when_bounce_class_is_listed(tmp_path):
    """internal_mail_filter_classes = bounce subjects notices to the checks."""
    result = pipeline(tmp_path, internal_mail_filter_classes="bounce").process(
        Envelope("", (Recipient("a@example.com"),)), NOTICE, origin="bounce", now=0.0)
    assert result.action == "reject"


def test_ordinary_mail_is_inspected(tmp_path):
    """The same message from pickup meets the checks."""
    result = pipeline(tmp_path).process(Envelope("a@example.com", (Recipient("b@example.com"),)), NOTICE,
                                origin="pickup", now=0.0)
    assert result.action == "reject"
