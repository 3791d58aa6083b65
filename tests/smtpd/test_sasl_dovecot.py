"""The Dovecot auth client against Dovecot's real auth server, run from a private config."""

from __future__ import annotations

import asyncio
import grp
import os
import pwd
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

from mailflow.adapters.dovecot_auth import DovecotAuthenticator, auth_socket_path
from mailflow.config import Config
from mailflow.smtpd.sasl import (AuthUnavailable, Done, Failed, SaslExchange,
                                 authenticator_from_config)

DOVECOT = shutil.which("dovecot") or ("/usr/sbin/dovecot" if os.path.exists("/usr/sbin/dovecot")
                                      else None)
pytestmark = pytest.mark.skipif(DOVECOT is None, reason="dovecot is not installed")

# doveadm pw -s SHA512-CRYPT -p wonderland
SHA512_WONDERLAND = ("{SHA512-CRYPT}$6$OPuY4IK0o2U8.Ak/$jUY1i3TOlfpIBOamWZ3bqExmul8xf3.d62Z4mkSl1t"
                     "iIYlfU.eTv5GNQsr/4sCrNnldkbPgn9cwnq5gbFg16C.")


class Dovecot:
    """A private Dovecot instance with only its auth service in use."""

    def __init__(self, root: Path, failure_delay: str = "0") -> None:
        self.root = root
        self.spool = root / "spool"
        self.socket = self.spool / "private" / "auth"
        self.proc: subprocess.Popen | None = None
        user, group = pwd.getpwuid(os.getuid()).pw_name, grp.getgrgid(os.getgid()).gr_name
        for d in ("run", "state", "spool/private"):
            (root / d).mkdir(parents=True, exist_ok=True)
        (root / "users").write_text(f"alice:{{PLAIN}}wonderland\ncarol:{SHA512_WONDERLAND}\n")
        # Every service runs as the current user, so this works as root and
        # as anyone else; listen must name an address even with no protocols.
        (root / "dovecot.conf").write_text(f"""\
base_dir = {root}/run
state_dir = {root}/state
instance_name = mailflow-test-{os.getpid()}
log_path = {root}/dovecot.log
protocols =
listen = 127.0.0.1
ssl = no
auth_mechanisms = plain login
disable_plaintext_auth = no
auth_failure_delay = {failure_delay}
default_internal_user = {user}
default_internal_group = {group}
default_login_user = {user}
passdb {{
  driver = passwd-file
  args = username_format=%u {root}/users
}}
userdb {{
  driver = static
  args = uid={os.getuid()} gid={os.getgid()} home={root}
}}
# No auth penalty (growing delays after failures from one address): the
# tests fail logins on purpose and would wait seconds.
service anvil {{
  unix_listener anvil-auth-penalty {{
    mode = 0
  }}
}}
service auth {{
  unix_listener {self.socket} {{
    mode = 0600
    user = {user}
  }}
}}
""")

    def start(self) -> None:
        if self.socket.exists():
            self.socket.unlink()
        self.proc = subprocess.Popen([DOVECOT, "-F", "-c", str(self.root / "dovecot.conf")],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                     start_new_session=True)
        deadline = time.monotonic() + 10
        while not self.socket.exists():
            if self.proc.poll() is not None:
                raise RuntimeError(f"dovecot exited: {self.proc.stderr.read().decode()}")
            if time.monotonic() > deadline:
                self.stop()
                pytest.fail(f"dovecot did not create {self.socket}")
            time.sleep(0.02)

    def stop(self) -> None:
        """Kill every process of this Dovecot at once (all in the session its
        master leads), as a crash would: a clean stop takes seconds, and the
        tests need nothing from it."""
        if self.proc is None:
            return
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait()  # the children are gone too (zombies until init reaps them)
        self.proc.stderr.close()
        self.proc = None


@pytest.fixture(scope="module")
def dovecot(tmp_path_factory):
    d = Dovecot(tmp_path_factory.mktemp("dovecot"))
    d.start()
    yield d
    d.stop()


def config(dovecot: Dovecot) -> Config:
    return Config(queue_directory=str(dovecot.spool), smtpd_sasl_type="dovecot",
                  smtpd_sasl_path="private/auth")


async def _login(auth, *pairs, **kw):
    try:
        return [await auth.authenticate(u, p, **kw) for u, p in pairs]
    finally:
        await auth.close()


def test_good_and_bad_passwords(dovecot):
    """Dovecot says OK to the right password and FAIL to a wrong one or an unknown user."""
    auth = authenticator_from_config(config(dovecot))
    assert isinstance(auth, DovecotAuthenticator)
    assert auth.path == str(dovecot.socket)
    results = asyncio.run(_login(auth, ("alice", "wonderland"), ("alice", "rabbit"),
                                 ("mallory", "wonderland"), ("carol", "wonderland"),
                                 ("carol", ""), client_address="192.0.2.7", tls=True))
    assert results == [True, False, False, True, False]
    assert auth.connects == 1  # one connection for all five requests


def test_mechanisms_come_from_dovecot(dovecot):
    """After connecting, the offered mechanisms are Dovecot's PLAIN and LOGIN."""
    auth = DovecotAuthenticator(str(dovecot.socket))

    async def main():
        await auth.connect()
        await auth.close()
    asyncio.run(main())
    assert tuple(auth.mechanisms()) == ("PLAIN", "LOGIN")


def test_full_smtp_exchange_through_dovecot(dovecot):
    """AUTH LOGIN from an SMTP client, checked by Dovecot: 235 and 535."""
    auth = DovecotAuthenticator(str(dovecot.socket))

    async def exchange(password):
        ex = SaslExchange(auth.mechanisms())
        ex.command("LOGIN")
        ex.step("YWxpY2U=")  # alice
        import base64
        verify = ex.step(base64.b64encode(password.encode()).decode())
        return await ex.authenticate(verify, auth, client_address="127.0.0.1")

    async def main():
        try:
            return await exchange("wonderland"), await exchange("nope")
        finally:
            await auth.close()
    good, bad = asyncio.run(main())
    assert isinstance(good, Done) and str(good.reply) == "235 2.7.0 Authentication successful"
    assert isinstance(bad, Failed) and str(bad.reply).startswith("535 5.7.8 Error: authentication")


def test_concurrent_logins_share_one_connection(tmp_path):
    """A delayed failure (auth_failure_delay) does not hold up other logins on the connection."""
    d = Dovecot(tmp_path, failure_delay="2s")
    d.start()
    try:
        auth = DovecotAuthenticator(str(d.socket))

        async def main():
            try:
                await auth.connect()
                t0 = time.monotonic()
                bad = asyncio.ensure_future(auth.authenticate("alice", "wrong"))
                await asyncio.sleep(0.05)
                goods = await asyncio.gather(*(auth.authenticate("alice", "wonderland")
                                               for _ in range(10)))
                good_time = time.monotonic() - t0
                return goods, await bad, good_time, time.monotonic() - t0
            finally:
                await auth.close()
        goods, bad, good_time, bad_time = asyncio.run(main())
    finally:
        d.stop()
    assert goods == [True] * 10 and bad is False
    assert good_time < 0.5 < bad_time  # Dovecot delays a failure by 1-2 s
    assert auth.connects == 1


def test_dead_socket_is_a_temporary_failure(tmp_path):
    """No Dovecot listening: AuthUnavailable, and 454 through the exchange."""
    auth = DovecotAuthenticator(str(tmp_path / "auth"))
    with pytest.raises(AuthUnavailable, match="Can't connect to authentication server"):
        asyncio.run(_login(auth, ("alice", "wonderland")))
    ex = SaslExchange()
    verify = ex.command("PLAIN AGFsaWNlAHdvbmRlcmxhbmQ=")
    event = asyncio.run(ex.authenticate(verify, auth))
    assert str(event.reply) == ("454 4.7.0 Temporary authentication failure: "
                                "Can't connect to authentication server")


def test_dovecot_restart_reconnects(tmp_path):
    """Dovecot gone: a temporary failure; started again: the next login reconnects."""
    d = Dovecot(tmp_path)
    d.start()
    auth = DovecotAuthenticator(str(d.socket))

    async def main():
        results = [await auth.authenticate("alice", "wonderland")]
        await asyncio.to_thread(d.stop)
        try:
            results.append(await auth.authenticate("alice", "wonderland"))
        except AuthUnavailable as exc:
            results.append(str(exc))
        await asyncio.to_thread(d.start)
        results.append(await auth.authenticate("alice", "wonderland"))
        await auth.close()
        return results

    try:
        results = asyncio.run(main())
    finally:
        d.stop()
    assert results[0] is True and results[2] is True
    assert results[1] in ("Can't connect to authentication server",
                          "Connection lost to authentication server")
    assert auth.connects == 2


def test_wrong_socket_is_refused(dovecot):
    """The auth-userdb socket answers without MECH lines: refused, never a login."""
    auth = DovecotAuthenticator(str(dovecot.root / "run" / "auth-userdb"))
    with pytest.raises(AuthUnavailable):
        asyncio.run(_login(auth, ("alice", "wonderland")))


def test_silent_server_times_out(tmp_path):
    """A socket that accepts and never answers: AuthUnavailable after the timeout."""
    path = str(tmp_path / "silent")

    async def main():
        held = []

        async def accept(reader, writer):
            held.append(writer)  # say nothing; keep the connection open

        server = await asyncio.start_unix_server(accept, path)
        auth = DovecotAuthenticator(path, timeout=0.3)
        try:
            t0 = time.monotonic()
            with pytest.raises(AuthUnavailable):
                await auth.authenticate("alice", "wonderland")
            return time.monotonic() - t0
        finally:
            await auth.close()
            for w in held:
                w.close()
            server.close()
            await server.wait_closed()

    assert asyncio.run(main()) < 2


def test_request_timeout_after_handshake(tmp_path):
    """A server that handshakes and never answers AUTH: AuthUnavailable, not False."""
    path = str(tmp_path / "mute")
    lines = []

    async def main():
        async def serve(reader, writer):
            writer.write(b"VERSION\t1\t2\nMECH\tPLAIN\tplaintext\nSPID\t1\nCUID\t1\nDONE\n")
            while line := await reader.readline():
                lines.append(line)
            writer.close()

        server = await asyncio.start_unix_server(serve, path)
        auth = DovecotAuthenticator(path, timeout=0.3)
        try:
            with pytest.raises(AuthUnavailable, match="Connection lost"):
                await auth.authenticate("alice", "wonderland", client_address="192.0.2.1",
                                        tls=True)
        finally:
            await auth.close()
            server.close()
            await server.wait_closed()
        return auth

    auth = asyncio.run(main())
    assert tuple(auth.mechanisms()) == ("PLAIN",)
    assert lines[0] == b"VERSION\t1\t0\n" and lines[1].startswith(b"CPID\t")
    assert lines[2] == (b"AUTH\t1\tPLAIN\tservice=smtp\tnologin\trip=192.0.2.1\tsecured\t"
                        b"resp=AGFsaWNlAHdvbmRlcmxhbmQ=\n")


def test_socket_path_from_config():
    """smtpd_sasl_path is relative to queue_directory unless absolute or inet:."""
    assert auth_socket_path(Config(queue_directory="/q", smtpd_sasl_path="private/auth")) == \
        "/q/private/auth"
    assert auth_socket_path(Config(smtpd_sasl_path="unix:/run/dovecot/auth-client")) == \
        "/run/dovecot/auth-client"
