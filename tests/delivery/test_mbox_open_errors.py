"""A mailbox that cannot be opened: deferred or bounced as Postfix's mbox_dsn() says."""

from __future__ import annotations

import errno

import pytest

from mailflow.delivery import locking
from mailflow.delivery.mbox import append_mbox
from mailflow.errors import PermanentFailure, TemporaryFailure


@pytest.mark.parametrize("err,kind,code", [
    (errno.ENOSPC, TemporaryFailure, "4.3.0"),      # the file system is full: try again later
    (errno.EDQUOT, PermanentFailure, "5.2.2"),      # the user's quota: mailbox full
    (errno.EACCES, PermanentFailure, "5.2.0"),
])
def test_open_failure_status(tmp_path, monkeypatch, err, kind, code):
    def refuse(*args, **kwargs):
        raise OSError(err, "refused")
    monkeypatch.setattr(locking.os, "open", refuse)
    with pytest.raises(kind) as caught:
        append_mbox(str(tmp_path / "mbox"), b"From x\n\nbody\n\n", locks=("fcntl",))
    assert caught.value.status.code == code
