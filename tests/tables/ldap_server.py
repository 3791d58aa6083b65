"""A private OpenLDAP ``slapd`` for the ldap: table tests.

:class:`Slapd` writes a ``slapd.conf`` (mdb backend, the core, cosine,
inetorgperson, nis and misc schemas) in a temporary directory, loads
:data:`LDIF` with ``slapadd`` and starts ``slapd -h ldap://127.0.0.1:PORT/``
in the foreground-less daemon mode with its own pid file. It never touches
the system's slapd. ``pause()``/``resume()`` stop and continue the process
(SIGSTOP/SIGCONT): the port still accepts connections but nothing answers,
which is what a hung directory server looks like to a client.
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

BASE = "dc=example,dc=com"
ADMIN_DN = f"cn=admin,{BASE}"
ADMIN_PW = "secret"
READER_DN = f"cn=reader,{BASE}"
READER_PW = "reader-pw"

LDIF = f"""\
dn: {BASE}
objectClass: dcObject
objectClass: organization
dc: example
o: Example

dn: {READER_DN}
objectClass: simpleSecurityObject
objectClass: organizationalRole
cn: reader
userPassword: {READER_PW}

dn: ou=people,{BASE}
objectClass: organizationalUnit
ou: people

dn: ou=groups,{BASE}
objectClass: organizationalUnit
ou: groups

dn: ou=example.org,{BASE}
objectClass: organizationalUnit
ou: example.org

dn: uid=joe,ou=people,{BASE}
objectClass: inetOrgPerson
objectClass: inetLocalMailRecipient
uid: joe
cn: Joe
sn: Doe
mail: joe@example.com
mailLocalAddress: joe@example.com
mailLocalAddress: joe.doe@example.com
mailRoutingAddress: joe@mail.example.com

dn: uid=ann,ou=people,{BASE}
objectClass: inetOrgPerson
objectClass: inetLocalMailRecipient
uid: ann
cn: Ann
sn: Smith
mail: ann@example.com
mailLocalAddress: ann@example.com
mailRoutingAddress: ann@mail.example.com

dn: uid=multi,ou=people,{BASE}
objectClass: inetOrgPerson
objectClass: inetLocalMailRecipient
uid: multi
cn: Multi
sn: Valued
mail: one@example.net
mail: two@example.net
mail: three@example.net
mailLocalAddress: multi@example.com

dn: uid=star,ou=people,{BASE}
objectClass: inetOrgPerson
objectClass: inetLocalMailRecipient
uid: star
cn: Star
sn: Star
mail: star@example.net
mailLocalAddress: st*r@example.com

dn: uid=bob,ou=example.org,{BASE}
objectClass: inetOrgPerson
objectClass: inetLocalMailRecipient
uid: bob
cn: Bob
sn: Org
mail: bob@example.org
mailLocalAddress: bob@example.org
mailRoutingAddress: bob@mail.example.org

dn: cn=staff,ou=groups,{BASE}
objectClass: groupOfNames
objectClass: extensibleObject
cn: staff
mail: staff-owner@example.com
mailLocalAddress: staff@example.com
member: uid=joe,ou=people,{BASE}
member: uid=ann,ou=people,{BASE}

dn: cn=all,ou=groups,{BASE}
objectClass: groupOfNames
objectClass: extensibleObject
cn: all
mailLocalAddress: all@example.com
member: cn=staff,ou=groups,{BASE}
member: uid=bob,ou=example.org,{BASE}
member: uid=ghost,ou=people,{BASE}

dn: cn=routed,ou=groups,{BASE}
objectClass: groupOfNames
objectClass: extensibleObject
cn: routed
mail: routed-list@example.com
mailLocalAddress: routed@example.com
mailRoutingAddress: routed@lists.example.com
member: uid=joe,ou=people,{BASE}

dn: cn=urlgroup,ou=groups,{BASE}
objectClass: organizationalRole
objectClass: extensibleObject
cn: urlgroup
mailLocalAddress: urlgroup@example.com
labeledURI: ldap:///ou=people,{BASE}?mail?one?(|(uid=ann)(uid=joe))
labeledURI: ldap:///uid=bob,ou=example.org,{BASE}?mailRoutingAddress?base?(objectClass=*)
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Slapd:
    """One slapd process on 127.0.0.1, with :data:`LDIF` loaded."""

    def __init__(self, directory: Path) -> None:
        self.dir = directory
        self.port = free_port()
        self.url = f"ldap://127.0.0.1:{self.port}/"
        self.pid = 0

    @staticmethod
    def available() -> str | None:
        """Why slapd cannot run here, or None when it can."""
        for tool in ("slapd", "slapadd"):
            if shutil.which(tool) is None and not os.path.exists(f"/usr/sbin/{tool}"):
                return f"OpenLDAP's {tool} is not installed (apt-get install slapd)"
        if not os.path.isdir("/etc/ldap/schema"):
            return "OpenLDAP's schema files (/etc/ldap/schema) are missing"
        return None

    @staticmethod
    def _tool(name: str) -> str:
        return shutil.which(name) or f"/usr/sbin/{name}"

    def _conf(self) -> str:
        modules = ""
        for libdir in ("/usr/lib/ldap", "/usr/lib64/openldap", "/usr/lib/openldap"):
            if os.path.exists(os.path.join(libdir, "back_mdb.la")) or \
                    os.path.exists(os.path.join(libdir, "back_mdb.so")):
                modules = f"modulepath {libdir}\nmoduleload back_mdb\n"
                break
        schemas = "".join(f"include /etc/ldap/schema/{name}.schema\n"
                          for name in ("core", "cosine", "inetorgperson", "nis", "misc"))
        return (f"{schemas}{modules}"
                f"pidfile {self.dir}/slapd.pid\n"
                # Postfix's ldap: tables speak LDAP version 2 unless told otherwise.
                "allow bind_v2\n"
                "database mdb\n"
                f'suffix "{BASE}"\n'
                f'rootdn "{ADMIN_DN}"\n'
                f"rootpw {ADMIN_PW}\n"
                f"directory {self.dir}/data\n"
                "maxsize 10485760\n"
                "access to * by * read\n")

    def start(self) -> None:
        """Write the configuration, load the data and start slapd; returns
        once it answers on its port."""
        (self.dir / "data").mkdir(parents=True, exist_ok=True)
        conf = self.dir / "slapd.conf"
        conf.write_text(self._conf())
        ldif = self.dir / "data.ldif"
        ldif.write_text(LDIF)
        user = []
        if os.geteuid() == 0:
            # Run as an unprivileged user when we can: slapd does not need root.
            try:
                pw = pwd.getpwnam("openldap")
            except KeyError:
                pw = None
            if pw is not None:
                for path in [self.dir, *self.dir.rglob("*")]:
                    os.chown(path, pw.pw_uid, pw.pw_gid)
                user = ["-u", "openldap"]
        subprocess.run([self._tool("slapadd"), "-f", str(conf), "-l", str(ldif)],
                       check=True, capture_output=True, timeout=60)
        if user:
            for path in [self.dir, *self.dir.rglob("*")]:
                os.chown(path, pw.pw_uid, pw.pw_gid)
        started = subprocess.run([self._tool("slapd"), "-h", self.url, "-f", str(conf), *user],
                                 capture_output=True, text=True, timeout=60)
        if started.returncode != 0:
            raise RuntimeError(f"slapd failed to start: {started.stderr.strip()}")
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            pidfile = self.dir / "slapd.pid"
            if pidfile.exists() and pidfile.read_text().strip():
                try:
                    with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                        self.pid = int(pidfile.read_text())
                        return
                except OSError:
                    pass
            time.sleep(0.05)
        raise RuntimeError(f"slapd did not start on port {self.port}")

    def pause(self) -> None:
        """Stop the process: connections are accepted but never answered.

        Returns once every thread is stopped: SIGSTOP takes effect on each
        thread at its next return to user space, not at once.
        """
        os.kill(self.pid, signal.SIGSTOP)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and not self._all_stopped():
            time.sleep(0.005)

    def _all_stopped(self) -> bool:
        tasks = Path(f"/proc/{self.pid}/task")
        if not tasks.is_dir():
            time.sleep(0.2)  # no /proc: give the signal a moment instead
            return True
        for task in tasks.iterdir():
            try:
                stat = (task / "stat").read_text()
            except OSError:
                continue  # a thread that exited meanwhile
            if stat.rpartition(")")[2].split()[0] not in ("T", "t"):
                return False
        return True

    def resume(self) -> None:
        """Continue after :meth:`pause`."""
        os.kill(self.pid, signal.SIGCONT)

    def stop(self) -> None:
        """Kill slapd and wait until it is gone."""
        if not self.pid:
            return
        try:
            # Its data is thrown away: no need for a clean (and slow) shutdown.
            os.kill(self.pid, signal.SIGKILL)
        except ProcessLookupError:
            self.pid = 0
            return
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                os.kill(self.pid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.02)
        self.pid = 0


# The one slapd of a test session, shared by every module that imports the
# fixture (each import makes its own fixture definition).
_RUNNING: list[Slapd] = []


@pytest.fixture(scope="session")
def slapd():
    """One slapd for the test session; skipped when OpenLDAP or ldap3 is missing."""
    why = Slapd.available()
    if why:
        pytest.skip(why)
    from mailflow.errors import TableError
    from mailflow.tables.ldap import _ldap3
    try:
        _ldap3()
    except TableError as exc:
        pytest.skip(str(exc))
    if not _RUNNING:
        # Not under pytest's base temp: that is private to the user running
        # the tests, and slapd drops to the openldap user when started as root.
        server = Slapd(Path(tempfile.mkdtemp(prefix="mailflow-slapd-")))
        _RUNNING.append(server)
        server.start()
    yield _RUNNING[0]
    if _RUNNING:
        server = _RUNNING.pop()
        server.stop()
        shutil.rmtree(server.dir, ignore_errors=True)


@pytest.fixture
def ldap_cf(slapd, tmp_path):
    """Write an ldap: .cf file for the session's slapd; returns its path.

    ``server_host`` and ``search_base`` default to the test server and
    :data:`BASE` unless the text sets them.
    """
    count = [0]

    def write(text: str, name: str | None = None) -> str:
        count[0] += 1
        lines = []
        if "server_host" not in text:
            lines.append(f"server_host = {slapd.url}")
        if "search_base" not in text:
            lines.append(f"search_base = {BASE}")
        path = tmp_path / (name or f"ldap{count[0]}.cf")
        path.write_text("\n".join(lines + [text.strip(), ""]))
        # Postfix waits up to two seconds before reading a table file
        # modified within the last second; date it back.
        past = time.time() - 60
        os.utime(path, (past, past))
        return str(path)
    return write
