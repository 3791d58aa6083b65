"""discard, error and retry, and finding agents by name."""

import pytest

from mailflow.config import Config
from mailflow.delivery import ServiceEntry, create_agent, register_agent, unregister_agent
from mailflow.errors import ConfigError

from delivery_helpers import deliver, make_request


# Postfix 3.7.11 results for transport_maps entries "transport:nexthop",
# obtained from a private Postfix instance (texthash transport table, mail
# sent with sendmail, dsn= and status text read from its log).
POSTFIX_NEXTHOP_RESULTS = [
    ("discard", "gone away", "2.0.0 gone away"),
    ("discard", "2.1.5 fine", "2.1.5 fine"),
    ("discard", "5.1.1 odd", "2.0.0 odd"),
    ("error", "4.7.1 not now", "5.0.0 not now"),
    ("error", "5.1.1 no such user", "5.1.1 no such user"),
    ("error", "5.7 two part", "5.0.0 5.7 two part"),
    ("error", "", "5.0.0 Address is undeliverable"),
    ("retry", "5.1.1 nope", "4.0.0 nope"),
    ("retry", "4.4.1 host down", "4.4.1 host down"),
    ("retry", "", "4.0.0 Address is undeliverable"),
]


@pytest.mark.parametrize("service,nexthop,want", POSTFIX_NEXTHOP_RESULTS,
                         ids=[f"{s}:{n or 'empty'}" for s, n, _ in POSTFIX_NEXTHOP_RESULTS])
def test_nexthop_is_the_reason(service, nexthop, want):
    """The nexthop text (with an optional leading code) becomes every recipient's status."""
    agent = create_agent(service, None, ServiceEntry(service, "error" if service == "retry" else service))
    outs = deliver(agent, make_request("a@example.com", "b@example.com", nexthop=nexthop))
    assert [str(o.status) for o in outs] == [want, want]
    assert {o.relay for o in outs} == {"none"}


def test_user_agent_registered_by_transport_name():
    """register_agent makes a Python class the agent for a transport name."""
    class Capture:
        def __init__(self, cfg, service):
            self.cfg = cfg

        async def deliver(self, request):
            return []
    register_agent("capture", Capture)
    try:
        assert isinstance(create_agent("capture"), Capture)
    finally:
        unregister_agent("capture")


def test_master_cf_command_column_names_the_agent():
    """A master.cf service is built by the agent its command column names,
    with its -o overrides applied to the agent's configuration."""
    seen = {}

    class Capture:
        def __init__(self, cfg, service):
            seen["limit"] = cfg.raw("mailbox_size_limit")
            seen["service"] = service

        async def deliver(self, request):
            return []
    register_agent("capturing", Capture)
    try:
        entry = ServiceEntry("archive", "capturing", ("a=b",), {"mailbox_size_limit": "123"})
        create_agent("archive", Config(), entry)
    finally:
        unregister_agent("capturing")
    assert seen["limit"] == "123"
    assert seen["service"].name == "archive" and seen["service"].args == ("a=b",)


def test_pipe_service_from_master_cf_entry():
    """A `name unix - n n - - pipe flags=.. argv=..` entry builds a pipe agent."""
    agent = create_agent("myfilter", Config(), ServiceEntry("myfilter", "pipe",
                                                            ("flags=Rq", "argv=/bin/cat")))
    assert agent.name == "myfilter" and agent.spec.argv == ("/bin/cat",)


def test_entry_objects_from_the_config_layer_are_accepted():
    """Any object with name/command/args/overrides works as a service entry."""
    class Entry:
        name = "mydiscard"
        command = "discard"
        args = ()
        overrides = {}
    out = deliver(create_agent("mydiscard", Config(), Entry()), make_request("a@x", nexthop="x"))
    assert out[0].status.is_success


def test_unknown_agent_is_a_config_error():
    """A transport nobody registered is a ConfigError naming the fix."""
    with pytest.raises(ConfigError, match="register_agent"):
        create_agent("nosuchtransport")


def test_agents_from_parsed_master_cf():
    """Entries parsed from master.cf text build the agents their command names,
    with -o overrides and pipe arguments carried over."""
    from mailflow.config.master_cf import parse_master_cf
    master = parse_master_cf(
        "retry     unix  -       -       n       -       -       error\n"
        "filter    unix  -       n       n       -       10      pipe\n"
        "  flags=Rq user=filter argv=/usr/bin/filter -f ${sender} -- ${recipient}\n"
        "vbox      unix  -       n       n       -       -       virtual\n"
        "  -o virtual_mailbox_limit=1234\n")
    retry = create_agent("retry", Config(), master.transport("retry"))
    pipe = create_agent("filter", Config(), master.transport("filter"))
    vbox = create_agent("vbox", Config(), master.transport("vbox"))
    assert type(retry).__name__ == "RetryAgent"
    assert pipe.spec.argv == ("/usr/bin/filter", "-f", "${sender}", "--", "${recipient}")
    assert (pipe.spec.flags, pipe.spec.user) == ("Rq", "filter")
    assert vbox.limit == 1234


def test_public_names_are_importable():
    """Every name in mailflow.delivery.__all__ resolves."""
    import mailflow.delivery as delivery
    for name in delivery.__all__:
        assert getattr(delivery, name) is not None, name


def test_hooks_an_agent_does_not_take_are_not_passed():
    """A daemon may offer resubmit= to every built-in agent; those without it ignore it."""
    agent = create_agent("discard", None, None, resubmit=lambda e, m: None)
    assert deliver(agent, make_request("a@x", nexthop="x"))[0].status.is_success
