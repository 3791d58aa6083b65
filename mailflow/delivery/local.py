"""local(8): deliver to local users' mailboxes, through aliases and .forward.

Owns the local agent: checks ``local_recipient_maps``, refuses a message
that already carries ``Delivered-To:`` for the recipient (a forwarding
loop), plans the deliveries with :mod:`local_expand`, then carries them
out: mbox in ``mail_spool_directory`` or ``home_mailbox`` (Maildir when it
ends in ``/``) with ``mailbox_delivery_lock`` locks, ``mailbox_command``
(via ``/bin/sh -c``, as Postfix), files, commands, and re-submission of
forwarded mail through the injected ``resubmit(envelope, message)``
callable. It never writes to the queue itself. With ``mailbox_transport``
(or a ``mailbox_transport_maps`` entry for the user) a mailbox delivery is
handed, as Postfix's local(8) does, to that transport's agent instead
(``lmtp:unix:/path`` to Dovecot); its outcome (relay, reply, Remote-MTA)
becomes the recipient's, and its delivery line is tagged with that agent's
service (``mailflow/lmtp[pid]: ... relay=...``), as Postfix's lmtp writes it.

>>> import asyncio, tempfile, mailbox
>>> from mailflow.model import DeliveryRequest, Envelope, Message, Recipient
>>> spool = tempfile.mkdtemp()
>>> agent = LocalAgent(None, None, users={"alice": "/nonexistent"},
...                    alias_maps={"postmaster": "alice"}, mail_spool_directory=spool)
>>> r = Recipient("postmaster@localhost")
>>> req = DeliveryRequest("Q1", "local", "localhost", Envelope("a@example.org", (r,)), (r,),
...                       Message(b"Subject: hi\\n\\nhello\\n"))
>>> str(asyncio.run(agent.deliver(req))[0].status)
'2.0.0 delivered to mailbox'
>>> box = mailbox.mbox(spool + "/alice")
>>> [m["delivered-to"] for m in box]
['postmaster@localhost']
>>> box.close()
"""

from __future__ import annotations

import logging
import os
import time
from typing import Any, Callable, Mapping, Sequence

import attrs

from mailflow.delivery.agentutil import failure_status, in_thread, is_root
from mailflow.delivery.command import run_command
from mailflow.delivery.local_expand import Delivery, LocalPolicy, plan_local
from mailflow.delivery.locking import parse_lock_styles
from mailflow.delivery.mailcopy import CopyFlags, delivered_to, header_safe, render
from mailflow.delivery.maildir import deliver_maildir
from mailflow.delivery.maps import Maps, split_maps
from mailflow.delivery.mbox import append_mbox
from mailflow.delivery.pipe_argv import split_recipient
from mailflow.delivery.settings import Settings, seconds
from mailflow.delivery.users import LocalUser, user_database
from mailflow.errors import ConfigError, TableError
from mailflow.model import DeliveryRequest, DsnStatus, Envelope, Message, Outcome, Recipient

__all__ = ["LocalAgent", "Resubmit"]

log = logging.getLogger("mailflow.local")

# resubmit(envelope, message) -> queue ID (or None); the queue manager wires it to cleanup.
Resubmit = Callable[[Envelope, Message], Any]



UNKNOWN_LOCAL = DsnStatus("5.1.1", "User unknown in local recipient table")
_PASSWD_MAPS = ("proxy:unix:passwd.byname", "unix:passwd.byname")
_ANY = object()


def _read_text(path: str) -> str | None:
    try:
        with open(path, encoding="utf-8", errors="surrogateescape") as f:
            return f.read()
    except (FileNotFoundError, NotADirectoryError):
        return None


class LocalAgent:
    """The ``local`` command of master.cf.

    Keyword arguments replace parameters or hooks for embedded use:
    ``users`` (a mapping name -> home or a UserDatabase; default: the
    password database), ``alias_maps``, ``local_recipient_maps``,
    ``mail_spool_directory``, ``home_mailbox``, ``mailbox_command``,
    ``resubmit`` (callable for forwarded mail), ``is_local_domain``,
    ``read_file`` (for .forward and :include:), ``fsync``,
    ``mailbox_transport``, ``mailbox_transport_maps`` and ``agents`` (a
    mapping transport name -> ready agent for them; default: built from
    master.cf with :func:`~mailflow.delivery.registry.create_agent`).
    """

    relay = "local"

    def __init__(self, cfg: Any = None, service: Any = None, *, users: Any = None,
                 alias_maps: Any = None, local_recipient_maps: Any = _ANY,
                 mail_spool_directory: str | None = None, home_mailbox: str | None = None,
                 mailbox_command: str | None = None, resubmit: Resubmit | None = None,
                 is_local_domain: Callable[[str], bool] | None = None,
                 read_file: Callable[[str], str | None] | None = None, fsync: bool = True,
                 mailbox_transport: str | None = None, mailbox_transport_maps: Any = None,
                 agents: Mapping[str, Any] | None = None) -> None:
        s = Settings(cfg)
        self.settings = s
        self.cfg = cfg
        self.mailbox_transport = (s.text("mailbox_transport") if mailbox_transport is None
                                  else mailbox_transport).strip()
        self.transport_maps = Maps(s.text("mailbox_transport_maps") if mailbox_transport_maps is None
                                   else mailbox_transport_maps, cfg)
        self._agents: dict[str, Any] = dict(agents or {})
        self._services: dict[str, str] = {}     # transport -> its service, for the log tag
        self.name = getattr(service, "name", None) or "local"
        self.users = user_database(users)
        self.aliases = Maps(s.text("alias_maps") if alias_maps is None else alias_maps, cfg)
        self.recipient_maps = self._recipient_maps(s, local_recipient_maps, cfg)
        self.spool = s.text("mail_spool_directory") if mail_spool_directory is None else mail_spool_directory
        self.home_mailbox = s.text("home_mailbox") if home_mailbox is None else home_mailbox
        # postconf(5): mailbox_command is not subject to $parameter
        # expansion, so that shell syntax ($HOME, $EXTENSION) survives.
        self.mailbox_command = (s.raw("mailbox_command").strip() if mailbox_command is None
                                else mailbox_command)
        self.size_limit = s.int("mailbox_size_limit")
        self.locks = parse_lock_styles(s.text("mailbox_delivery_lock"))
        self.prepend = set(s.list("prepend_delivered_header"))
        self.time_limit = seconds(s.transport(self.name, "time_limit", "command_time_limit"))
        self.resubmit = resubmit
        self.read_file = read_file or _read_text
        self.fsync = fsync
        destinations = {d.lower() for d in s.list("mydestination")} | {"localhost"}
        self.is_local = is_local_domain or (lambda domain: domain.lower() in destinations)
        self.policy = LocalPolicy(
            recipient_delimiter=s.text("recipient_delimiter"),
            allow_mail_to_commands=frozenset(s.list("allow_mail_to_commands")),
            allow_mail_to_files=frozenset(s.list("allow_mail_to_files")),
            forward_path=tuple(x.strip() for x in s.raw("forward_path").split(",") if x.strip()),
            luser_relay=s.raw("luser_relay").strip(),
            owner_domain=s.text("myorigin"),
        )

    def _recipient_maps(self, s: Settings, given: Any, cfg: Any):
        """None: no check; else (use the user database?, other maps)."""
        if given is _ANY:
            if not s.is_set("local_recipient_maps"):
                # The default ("proxy:unix:passwd.byname $alias_maps") admits
                # exactly the users and aliases the expansion itself knows, so
                # no separate check: an unknown name then bounces with local(8)'s
                # own 'unknown user: "name"', as Postfix 3.7 does for mail
                # that did not come through smtpd.
                return None
            given = s.text("local_recipient_maps")
        if given is None or given == "" or given == []:
            return None
        specs = split_maps(given) if isinstance(given, str) else (
            [given] if hasattr(given, "get") else list(given))
        with_users = any(spec in _PASSWD_MAPS for spec in specs if isinstance(spec, str))
        others = [spec for spec in specs if not (isinstance(spec, str) and spec in _PASSWD_MAPS)]
        return with_users, Maps(others, cfg)

    def __repr__(self) -> str:
        return f"LocalAgent(aliases={self.aliases!r}, users={self.users!r})"

    # --- the request ----------------------------------------------------
    async def deliver(self, request: DeliveryRequest) -> Sequence[Outcome]:
        out: list[Outcome] = []
        for rcpt in request.recipients:
            try:
                status = await self._recipient(request, rcpt)
            except Exception as exc:  # noqa: BLE001 - every failure becomes a status
                status = failure_status(exc)
            if isinstance(status, Outcome):
                # Handed to mailbox_transport: that agent's words, for this recipient.
                out.append(attrs.evolve(status, recipient=rcpt))
            else:
                out.append(Outcome(rcpt, status, relay=self.relay))
        return out

    async def _recipient(self, request: DeliveryRequest, rcpt: Recipient) -> DsnStatus | Outcome:
        address = rcpt.address
        # local(8): a message that was already delivered to this address
        # here has looped (Delivered-To: is added on every delivery).
        if address.lower() in delivered_to(request.message.header_bytes):
            return DsnStatus("5.4.6", f"mail forwarding loop for {address}")
        plan = await in_thread(self._plan, address)
        if isinstance(plan, DsnStatus):
            return plan
        for item in plan:
            if item.kind == "status" and item.status.text.startswith("alias database loop"):
                # local(8) warns about this: it is a configuration mistake.
                log.warning("alias database loop for %s", address)
        statuses: list[DsnStatus | Outcome] = []
        forwards: list[Delivery] = []
        passed: set[str | DsnStatus] = set()
        for item in plan:
            name = _mailbox_name(item)
            transport = self._mailbox_transport(name) if name is not None else None
            if transport is not None:
                # One hand-over per transport: the queue file's recipient is
                # what Postfix passes on, however many aliases led here.
                if transport not in passed:
                    passed.add(transport)
                    statuses.append(await self._pass(request, rcpt, transport))
            elif item.kind == "forward":
                forwards.append(item)
            elif item.kind == "status":
                statuses.append(item.status)
            elif item.kind == "command":
                statuses.append(await self._command(request, rcpt, item))
            elif item.kind == "mailbox" and self.mailbox_command:
                statuses.append(await self._command(
                    request, rcpt, attrs.evolve(item, target=self.mailbox_command), mailbox=True))
            else:
                statuses.append(await in_thread(self._write, request, rcpt, item))
        if forwards:
            statuses.append(await self._forward(request, rcpt, forwards))
        return _summary(statuses)

    def _mailbox_transport(self, name: str) -> str | DsnStatus | None:
        """local(8)'s order: mailbox_transport_maps (keyed by the user
        name), then mailbox_transport; None: deliver here."""
        if self.transport_maps:
            try:
                found = self.transport_maps.get(name)
            except TableError as exc:
                log.warning("%s lookup for %s: %s", "mailbox_transport_maps", name, exc)
                return DsnStatus("4.3.0", "table lookup failure")
            if found is not None and found.strip():
                return found.strip()
        return self.mailbox_transport or None

    async def _pass(self, request: DeliveryRequest, rcpt: Recipient,
                    transport: str | DsnStatus) -> DsnStatus | Outcome:
        """Hand the recipient to ``transport:nexthop`` (Postfix's deliver_pass)."""
        if isinstance(transport, DsnStatus):
            return transport
        name, _, nexthop = transport.partition(":")
        if name == self.name:
            # Handing mail back to this very service would never end.
            log.warning("mailbox_transport %s names the local service itself", transport)
            return DsnStatus("4.3.5", f"mail system configuration error: mailbox_transport "
                                      f"{transport} loops back to {self.name}")
        try:
            agent = self._agent(name)
        except ConfigError as exc:
            log.warning("mailbox_transport %s: %s", transport, exc)
            return DsnStatus("4.3.0", "mail transport unavailable")
        passed = DeliveryRequest(request.queue_id, name, nexthop or request.nexthop,
                                 request.envelope, (rcpt,), request.message)
        outcomes = list(await agent.deliver(passed))
        if not outcomes:
            return DsnStatus("4.3.0", f"{name} delivery agent returned no outcome")
        # The delivering agent writes the line, as Postfix's lmtp does.
        return attrs.evolve(outcomes[0], service=self._services.get(name, name))

    def _agent(self, transport: str) -> Any:
        agent = self._agents.get(transport)
        if agent is None:
            from mailflow.delivery.registry import create_agent
            master = getattr(self.cfg, "master", None)
            entry = master.transport(transport) if master is not None else None
            agent = create_agent(transport, self.cfg, entry)
            self._agents[transport] = agent
            # The log tag is the master.cf command (lmtp), as the queue
            # manager names every agent's lines.
            self._services[transport] = str(getattr(entry, "command", "") or transport).split()[0]
        return agent

    async def aclose(self) -> None:
        """Close what the mailbox transports' agents keep open (LMTP connections)."""
        agents, self._agents = self._agents, {}
        for agent in agents.values():
            close = getattr(agent, "aclose", None)
            if close is not None:
                await close()

    def _plan(self, address: str) -> list[Delivery] | DsnStatus:
        local, user, ext, domain = split_recipient(address, self.policy.recipient_delimiter)
        if self.recipient_maps is not None and not self._known(local.lower(), user.lower(), address):
            return UNKNOWN_LOCAL
        return plan_local(address, self.policy, aliases=self.aliases.get,
                          users=self.users.lookup, read_file=self.read_file,
                          is_local=self.is_local)

    def _known(self, local: str, user: str, address: str) -> bool:
        with_users, maps = self.recipient_maps
        if with_users and self.users.lookup(user) is not None:
            return True
        if maps:
            for key in dict.fromkeys((address.lower(), local, user)):
                if maps.get(key) is not None:
                    return True
        return False

    # --- the actions -----------------------------------------------------
    def _content(self, request: DeliveryRequest, rcpt: Recipient, item: Delivery,
                 flags: CopyFlags) -> bytes:
        sender = item.sender if item.sender is not None else request.envelope.sender
        return render(request.message.data, sender=sender, recipient=rcpt.address,
                      original=rcpt.original, flags=flags, now=time.time())

    def _write(self, request: DeliveryRequest, rcpt: Recipient, item: Delivery) -> DsnStatus:
        if item.kind == "file":
            path = item.target
            flags = CopyFlags.MBOX if "file" in self.prepend else CopyFlags.MBOX & ~CopyFlags.DELIVERED
            if path.endswith("/"):
                deliver_maildir(path, self._content(request, rcpt, item, flags & CopyFlags.MAILDIR),
                                size_limit=self.size_limit, fsync=self.fsync)
            else:
                append_mbox(path, self._content(request, rcpt, item, flags), locks=self.locks,
                            size_limit=self.size_limit, fsync=self.fsync)
            return DsnStatus("2.0.0", f"delivered to file: {path}")
        user = item.user
        if self.home_mailbox:
            path = os.path.join(user.home, self.home_mailbox)
            if self.home_mailbox.endswith("/"):
                deliver_maildir(path, self._content(request, rcpt, item, CopyFlags.MAILDIR),
                                size_limit=self.size_limit, fsync=self.fsync)
                return DsnStatus("2.0.0", "delivered to maildir")
        else:
            path = os.path.join(self.spool, user.name)
            if self.spool.endswith("/") and self.spool != "/":
                # postconf(5): a mail_spool_directory ending in "/" holds Maildirs.
                deliver_maildir(path + "/", self._content(request, rcpt, item, CopyFlags.MAILDIR),
                                size_limit=self.size_limit, fsync=self.fsync)
                return DsnStatus("2.0.0", "delivered to maildir")
        created = not os.path.exists(path)
        append_mbox(path, self._content(request, rcpt, item, CopyFlags.MBOX), locks=self.locks,
                    size_limit=self.size_limit, fsync=self.fsync)
        if created and is_root() and user.uid >= 0:
            os.chown(path, user.uid, user.gid)
        return DsnStatus("2.0.0", "delivered to mailbox")

    def _environment(self, request: DeliveryRequest, rcpt: Recipient, user: LocalUser | None,
                     sender: str) -> dict[str, str]:
        local, name, ext, domain = split_recipient(rcpt.address, self.policy.recipient_delimiter)
        env = {"PATH": "/usr/bin:/bin", "SENDER": sender, "RECIPIENT": rcpt.address,
               "ORIGINAL_RECIPIENT": rcpt.original, "LOCAL": local, "USER": name,
               "LOGNAME": name, "EXTENSION": ext, "DOMAIN": domain, "SHELL": "/bin/sh"}
        for key in ("TZ", "LANG", "MAIL_CONFIG"):
            if key in os.environ:
                env[key] = os.environ[key]
        if user is not None:
            env.update(HOME=user.home, USER=user.name, LOGNAME=user.name, SHELL=user.shell)
        if request.envelope.envid:
            env["ENVID"] = request.envelope.envid
        client = request.envelope.client
        if client is not None:
            env.update(CLIENT_ADDRESS=client.address, CLIENT_HELO=client.helo,
                       CLIENT_HOSTNAME=client.name, CLIENT_PROTOCOL=client.protocol,
                       SASL_USERNAME=client.sasl_username)
        return env

    async def _command(self, request: DeliveryRequest, rcpt: Recipient, item: Delivery,
                       mailbox: bool = False) -> DsnStatus:
        sender = item.sender if item.sender is not None else request.envelope.sender
        flags = CopyFlags.FROM | CopyFlags.RETURN_PATH | CopyFlags.ORIG_RCPT
        if mailbox or "command" in self.prepend:
            flags |= CopyFlags.DELIVERED
        user = item.user
        cwd = user.home if user is not None and os.path.isdir(user.home) else None
        run_as = {}
        if is_root() and user is not None and user.uid >= 0:
            run_as = {"user": user.uid, "group": user.gid}
        # local(8) runs commands through /bin/sh -c: shell syntax in aliases
        # and .forward files is part of the contract.
        result = await run_command(["/bin/sh", "-c", item.target],
                                   self._content(request, rcpt, item, flags),
                                   time_limit=self.time_limit,
                                   env=self._environment(request, rcpt, user, sender),
                                   cwd=cwd, program="local", **run_as)
        if result.ok:
            return DsnStatus("2.0.0", f"delivered to command: {item.target}")
        return result.status(item.target)

    async def _forward(self, request: DeliveryRequest, rcpt: Recipient,
                       forwards: list[Delivery]) -> DsnStatus:
        if self.resubmit is None:
            return DsnStatus("4.3.5", "mail system configuration error: no way to forward mail")
        env = request.envelope
        message = request.message
        if "forward" in self.prepend:
            message = Message(b"Delivered-To: " + header_safe(rcpt.address.lower())
                              + b"\n" + message.data)
        ids = []
        by_sender: dict[str, list[Recipient]] = {}
        for item in forwards:
            sender = item.sender if item.sender is not None else env.sender
            by_sender.setdefault(sender, []).append(
                attrs.evolve(rcpt, address=item.target, original=rcpt.original))
        for sender, recipients in by_sender.items():
            new_env = attrs.evolve(env, sender=sender, recipients=tuple(recipients), queue_id=None)
            result = self.resubmit(new_env, message)
            if hasattr(result, "__await__"):
                result = await result
            ids.append(str(result) if result else "")
        shown = ", ".join(i for i in ids if i)
        return DsnStatus("2.0.0", f"forwarded as {shown}" if shown else "forwarded")


def _mailbox_name(item: Delivery) -> str | None:
    """The user name of a mailbox delivery, or of a user the password
    database does not know: mailbox_transport takes both ("whether or not
    they are found in the UNIX passwd database", postconf(5))."""
    if item.kind == "mailbox":
        return item.target
    if item.kind == "status" and item.status is not None and item.status.code == "5.1.1":
        text = item.status.text
        if text.startswith('unknown user: "') and text.endswith('"'):
            return text[len('unknown user: "'):-1]
    return None


def _summary(statuses: list[DsnStatus | Outcome]) -> DsnStatus | Outcome:
    """One status for a recipient: any deferral wins, then any bounce, else
    the first success (Postfix retries the whole recipient on a deferral)."""
    if not statuses:
        return DsnStatus("2.0.0", "delivered")
    for klass in (4, 5):
        for status in statuses:
            if _status(status).klass == klass:
                return status
    return statuses[0]


def _status(item: DsnStatus | Outcome) -> DsnStatus:
    return item.status if isinstance(item, Outcome) else item
