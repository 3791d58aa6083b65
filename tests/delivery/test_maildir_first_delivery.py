"""Maildir delivery while another delivery is still creating the Maildir."""

from __future__ import annotations

from mailflow.delivery.maildir import deliver_maildir


def test_delivery_completes_a_half_created_maildir(tmp_path):
    """A Maildir whose tmp/ exists but new/ not yet (a concurrent first delivery) still gets the message."""
    box = tmp_path / "box"
    (box / "tmp").mkdir(parents=True)
    name = deliver_maildir(str(box), b"Subject: x\n\nbody\n")
    assert (box / "new" / name).read_bytes() == b"Subject: x\n\nbody\n"
    assert (box / "cur").is_dir()
