"""Through the running daemon: local mail handed by ``mailbox_transport =
lmtp:unix:...`` to Dovecot's LMTP server, read back over IMAP; the maillog
line shows the LMTP outcome tagged mailflow/lmtp, as Postfix's lmtp writes it."""

from __future__ import annotations

import imaplib
import sys
from pathlib import Path

from dovecot_peer import dovecot

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "e2e"))
from e2e_helpers import shut_down, wait_until, write_config  # noqa: E402

LMTP_SERVICE = "lmtp      unix  -       -       n       -       -       lmtp\n"


def imap_bodies(server, user: str, password: str) -> list[bytes]:
    imap = imaplib.IMAP4("127.0.0.1", server.imap_port)
    try:
        imap.login(user, password)
        imap.select("INBOX")
        _, data = imap.search(None, "ALL")
        return [imap.fetch(num, "(RFC822)")[1][0][1] for num in data[0].split()]
    finally:
        imap.logout()


def test_local_delivery_to_dovecot_by_mailbox_transport(tmp_path):
    with dovecot(tmp_path / "dovecot", {"carol": "pw", "dave": "pw"}) as server:
        mta = write_config(tmp_path / "mta",
                           main_extra=f"mailbox_transport = lmtp:unix:{server.lmtp_socket}\n"
                                      "mailbox_transport_maps = inline:{{dave=lmtp:inet:127.0.0.1:"
                                      f"{server.lmtp_port}}}}}\n",
                           master_extra=LMTP_SERVICE)
        try:
            mta.start()
            mta.sendmail("a@example.org", "carol@localhost", "dave@localhost", "nobody@localhost",
                         data=b"Subject: via mailbox_transport\n\n.dot\nhello\n")
            wait_until(lambda: mta.log_text().count("status=") >= 3, "three delivery lines")
            wait_until(lambda: imap_bodies(server, "carol", "pw"), "carol's mail over IMAP")
            [carol] = imap_bodies(server, "carol", "pw")
            [dave] = imap_bodies(server, "dave", "pw")
            log = mta.log_text()
        finally:
            shut_down(mta)
    assert b"Subject: via mailbox_transport" in carol and b"\r\n.dot\r\nhello\r\n" in carol
    assert b"Subject: via mailbox_transport" in dave
    lines = {ln.split("to=<")[1].split(">")[0]: ln for ln in log.splitlines() if "status=" in ln}
    sent = lines["carol@localhost"]
    # The lmtp agent's line, as Postfix's lmtp writes it (not local's).
    assert "mailflow/lmtp[" in sent and f"relay={server.lmtp_socket}, " in sent
    assert "dsn=2.0.0, status=sent (250 2.0.0 <carol@localhost> " in sent
    assert f"relay=127.0.0.1[127.0.0.1]:{server.lmtp_port}, " in lines["dave@localhost"]
    # Dovecot's own reply for a user it does not know, as a bounce.
    gone = lines["nobody@localhost"]
    assert "mailflow/lmtp[" in gone and "mailflow/lmtp[" in lines["dave@localhost"]
    assert "dsn=5.1.1, status=bounced (host " in gone and "said: 550 5.1.1 " in gone
    assert "(in reply to RCPT TO command)" in gone
