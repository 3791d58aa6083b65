"""A private Dovecot (LMTP on a unix socket and TCP, IMAP on TCP) under a
temporary directory, for the lmtp client tests."""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Iterator

import attrs
import pytest

from smtp_peers import free_port, wait_tcp

DOVECOT = shutil.which("dovecot") or "/usr/sbin/dovecot"

CONF = """\
base_dir = {d}/run
state_dir = {d}/state
log_path = {d}/dovecot.log
protocols = lmtp imap
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain
mail_location = maildir:~/Maildir
{users}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%n {d}/passwd
}}
userdb {{
  driver = passwd-file
  args = username_format=%n {d}/passwd
}}
service lmtp {{
  unix_listener lmtp {{
    mode = 0666
  }}
  inet_listener lmtp {{
    address = 127.0.0.1
    port = {lmtp_port}
  }}
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {imap_port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service pop3-login {{
  inet_listener pop3 {{
    port = 0
  }}
}}
"""


@attrs.frozen
class Dovecot:
    home: Path
    lmtp_socket: str
    lmtp_port: int
    imap_port: int

    def maildir(self, user: str) -> Path:
        return self.home / "mail" / user / "Maildir"


@contextlib.contextmanager
def dovecot(tmp: Path, users: dict[str, str]) -> Iterator[Dovecot]:
    """Run Dovecot in the foreground under ``tmp`` with ``users`` (name ->
    password) as mail users owned by the current user."""
    if not os.path.exists(DOVECOT) or not os.path.exists("/usr/lib/dovecot/lmtp"):
        pytest.skip("dovecot with its LMTP server is not installed")
    root = os.getuid() == 0
    if root:
        # Dovecot gives no mail user uid 0, and its own processes cannot
        # enter pytest's private (0700) temporary directory: as root, run it
        # in a world-searchable directory with the mail owned by "nobody".
        d = Path(tempfile.mkdtemp(prefix="mailflow-dovecot-"))
        d.chmod(0o755)
        owner = pwd.getpwnam("nobody")
        uid, gid = owner.pw_uid, owner.pw_gid
        run_as = ""
    else:
        d = tmp / "dovecot"
        d.mkdir()
        uid, gid = os.getuid(), os.getgid()
        me = pwd.getpwuid(uid).pw_name
        # Dovecot's own processes run as the current user too.
        run_as = f"default_internal_user = {me}\ndefault_login_user = {me}\n"
    for sub in ("run", "state", "mail"):
        (d / sub).mkdir()
    for u in users:
        (d / "mail" / u).mkdir()
        os.chown(d / "mail" / u, uid, gid)
    (d / "passwd").write_text("".join(f"{u}:{{PLAIN}}{p}:{uid}:{gid}::{d}/mail/{u}::\n"
                                      for u, p in users.items()))
    lmtp_port, imap_port = free_port(), free_port()
    (d / "dovecot.conf").write_text(CONF.format(d=d, users=run_as, lmtp_port=lmtp_port,
                                                imap_port=imap_port))
    proc = subprocess.Popen([DOVECOT, "-F", "-c", str(d / "dovecot.conf")],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        try:
            wait_tcp(imap_port)
            wait_tcp(lmtp_port)
        except OSError:
            log = (d / "dovecot.log").read_text() if (d / "dovecot.log").exists() else ""
            raise RuntimeError(f"dovecot did not start: {proc.stderr.read1(4096)!r} {log}")
        end = time.monotonic() + 10
        while not (d / "run" / "lmtp").exists() and time.monotonic() < end:
            time.sleep(0.02)
        yield Dovecot(d, str(d / "run" / "lmtp"), lmtp_port, imap_port)
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        proc.stderr.close()
        if root:
            shutil.rmtree(d, ignore_errors=True)
