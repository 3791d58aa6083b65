"""A private, throw-away Postfix instance for benchmarks to compare against.

Usage from a benchmark::

    from postfix_peer import PostfixPeer, why_unavailable
    reason = why_unavailable()
    if reason is None:
        with PostfixPeer() as peer:           # config and spool under a temp dir
            subprocess.run(peer.sendmail_argv("-f", "a@example.com", "b@example.net"), input=b"...")
            peer.queue_count("maildrop")

It writes its own ``main.cf`` (loopback only, ``compatibility_level = 3.6``),
copies the system ``master.cf``, lists the directory in the system
``alternate_config_directories`` (Postfix's set-gid programs refuse other
config directories otherwise) for as long as the peer lives, and runs
``postfix -c DIR set-permissions`` and ``check`` so the spool exists.
``start()``/``stop()`` run the daemons when a benchmark needs them.
Needs root and an installed Postfix; :func:`why_unavailable` says what is
missing.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

__all__ = ["PostfixPeer", "why_unavailable"]

POSTCONF = shutil.which("postconf") or "/usr/sbin/postconf"


def why_unavailable() -> str | None:
    """None when a peer can be set up here, else the reason it cannot."""
    if not (shutil.which("postfix") or os.path.exists("/usr/sbin/postfix")):
        return "Postfix is not installed (apt-get install postfix)"
    if os.geteuid() != 0:
        return "a private Postfix instance needs root"
    if not os.path.exists("/etc/postfix/master.cf"):
        return "no /etc/postfix/master.cf to copy"
    return None


def unchroot(master_cf: Path) -> None:
    """Set the chroot column of every service in ``master_cf`` to ``n``: a
    chrooted service needs a populated chroot, and the peer runs none."""
    lines = []
    for line in master_cf.read_text().splitlines():
        fields = line.split()
        if len(fields) >= 8 and not line[0].isspace() and not line.startswith("#") and fields[4] == "y":
            fields[4] = "n"
            line = " ".join(fields)
        lines.append(line)
    master_cf.write_text("\n".join(lines) + "\n")


class PostfixPeer:
    """A Postfix instance under ``root`` (a new temp dir by default)."""

    def __init__(self, root: str | os.PathLike | None = None, port: int = 10099) -> None:
        self.root = Path(root or tempfile.mkdtemp(prefix="postfix-peer-"))
        self.etc = self.root / "etc"
        self.spool = self.root / "spool"
        self.port = port
        self._registered = False
        self._running = False

    # --- life cycle --------------------------------------------------------
    def __enter__(self) -> "PostfixPeer":
        self.setup()
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def setup(self) -> None:
        for d in (self.etc, self.spool, self.root / "data"):
            d.mkdir(parents=True, exist_ok=True)
        os.chmod(self.root, 0o755)
        os.chmod(self.spool, 0o755)
        shutil.chown(self.root / "data", "postfix")
        shutil.copy("/etc/postfix/master.cf", self.etc / "master.cf")
        (self.etc / "main.cf").write_text(
            "compatibility_level = 3.6\n"
            f"queue_directory = {self.spool}\n"
            f"data_directory = {self.root / 'data'}\n"
            "inet_interfaces = 127.0.0.1\ninet_protocols = ipv4\n"
            f"maillog_file_prefixes = {self.root}\nmaillog_file = {self.root / 'maillog'}\n"
            "myhostname = peer.example.test\nmydomain = example.test\n"
            "mydestination = $myhostname, localhost\nalias_maps =\nalias_database =\n")
        # Keep the peer off the network: no smtpd on port 25, one on loopback.
        subprocess.run([POSTCONF, "-c", str(self.etc), "-M#", "smtp/inet"], check=True)
        subprocess.run([POSTCONF, "-c", str(self.etc), "-Me",
                        f"127.0.0.1:{self.port}/inet = 127.0.0.1:{self.port} inet n - n - - smtpd"],
                       check=True)
        self._register(True)
        subprocess.run(["postfix", "-c", str(self.etc), "set-permissions"],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        subprocess.run(["postfix", "-c", str(self.etc), "check"], check=True)

    def close(self) -> None:
        """Stop the daemons if started, unlist the directory, remove everything."""
        if self._running:
            self.stop()
        self._register(False)
        shutil.rmtree(self.root, ignore_errors=True)

    def start(self) -> None:
        subprocess.run(["postfix", "-c", str(self.etc), "start"], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self._running = True

    def stop(self) -> None:
        subprocess.run(["postfix", "-c", str(self.etc), "stop"],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self._running = False

    def _register(self, add: bool) -> None:
        if add == self._registered:
            return
        current = subprocess.run([POSTCONF, "-h", "alternate_config_directories"],
                                 capture_output=True, text=True).stdout.split()
        mine = str(self.etc)
        new = current + [mine] if add and mine not in current else [d for d in current if d != mine]
        if new != current:
            subprocess.run([POSTCONF, "-e", "alternate_config_directories = " + " ".join(new)], check=True)
        self._registered = add

    # --- using it ------------------------------------------------------------
    def sendmail_argv(self, *args: str) -> list[str]:
        """Postfix's sendmail, pointed at this instance."""
        return ["/usr/sbin/sendmail", "-C", str(self.etc), *args]

    def postconf(self, *args: str) -> str:
        return subprocess.run([POSTCONF, "-c", str(self.etc), *args], check=True,
                              capture_output=True, text=True).stdout

    def queue_count(self, queue: str) -> int:
        """Files in one queue directory (recursing into hashed subdirectories)."""
        return sum(len(files) for _, _, files in os.walk(self.spool / queue))
