"""The in-memory fixtures: mail_system, mail_system_factory, dns_records, the marker."""

from __future__ import annotations

import configparser
import subprocess
import sys
from pathlib import Path

pytest_plugins = ["pytester"]

ROOT = Path(__file__).resolve().parents[2]


def test_mail_system_is_configured_by_the_marker(run):
    """The marker's parameters reach the MailSystem; the nearest marker wins over the module's."""
    result = run('''
        import pytest
        pytestmark = pytest.mark.mailflow(virtual_alias_domains="example.com",
                                          virtual_alias_maps="inline:{ sales@example.com=ann@example.net }")

        def test_module_marker(mail_system):
            mail_system.send(b"Subject: hi\\n\\nhello\\n", "bob@example.org", "sales@example.com")
            mail_system.deliver_all()
            delivery = mail_system.assert_delivered(to="ann@example.net", transport="smtp")
            assert delivery.original == "sales@example.com"
            assert delivery.email["Subject"] == "hi"

        @pytest.mark.mailflow(virtual_alias_maps="inline:{ sales@example.com=carl@example.net }")
        def test_nearest_marker_wins(mail_system):
            mail_system.send(b"Subject: hi\\n\\nhello\\n", "bob@example.org", "sales@example.com")
            mail_system.deliver_all()
            mail_system.assert_delivered(to="carl@example.net")

        def test_fixed_names(mail_system):
            assert str(mail_system.config.myhostname) == "mail.example.com"
    ''')
    result.assert_outcomes(passed=3)


def test_factory_makes_systems_with_their_own_parameters_and_clock(run):
    """mail_system_factory(**params) overrides the marker; each system has its own clock."""
    result = run('''
        import pytest

        @pytest.mark.mailflow(relayhost="[relay.example]")
        def test_two(mail_system_factory):
            relayed = mail_system_factory()
            direct = mail_system_factory(relayhost="")
            for system in (relayed, direct):
                system.send(b"Subject: x\\n\\nx\\n", "a@example.org", "b@example.net")
                system.deliver_all()
            relayed.assert_delivered(to="b@example.net", nexthop="[relay.example]")
            direct.assert_delivered(to="b@example.net", nexthop="example.net")
            relayed.clock.advance(60)
            assert direct.clock.now() + 60 == relayed.clock.now()
    ''')
    result.assert_outcomes(passed=1)


def test_marker_with_positional_arguments_is_a_usage_error(run):
    """@pytest.mark.mailflow("x") is refused with a message saying how to write it."""
    result = run('''
        import pytest

        @pytest.mark.mailflow("relayhost")
        def test_it(mail_system):
            pass
    ''')
    result.stdout.fnmatch_lines(["*takes main.cf parameters as name=value, not ('relayhost',)*"])
    assert result.ret != 0


def test_marker_is_registered(run):
    """The mailflow marker is known, so --strict-markers accepts it."""
    result = run('''
        import pytest

        @pytest.mark.mailflow(mydestination="")
        def test_it():
            pass
    ''', "--strict-markers")
    result.assert_outcomes(passed=1)


def test_dns_records_feed_the_real_smtp_agent(run):
    """A real smtp agent in mail_system finds the MX and address in dns_records
    and delivers to smtp_server's port."""
    result = run('''
        def test_mx(mail_system_factory, dns_records, smtp_server):
            dns_records.add("relay.test", "MX", "10 mx.relay.test")
            dns_records.add("mx.relay.test", "A", "127.0.0.1")
            system = mail_system_factory(real=["smtp"], relayhost=f"relay.test:{smtp_server.port}",
                                         inet_interfaces="192.0.2.1",  # 127.0.0.1 is not "myself"
                                         smtp_helo_name="client.example.com")
            system.send(b"Subject: via dns\\n\\nhello\\n", "a@example.org", "b@example.net")
            system.deliver_all()
            system.assert_delivered(to="b@example.net", transport="smtp")
            [received] = smtp_server.messages
            assert received.recipients == ["b@example.net"]
            assert received.email["Subject"] == "via dns"
            assert ("relay.test", "MX") in dns_records.queries
    ''')
    result.assert_outcomes(passed=1)


def test_dns_failure_defers(run):
    """A DNS outage made with dns_records.fail() defers the mail with Postfix's 4.4.3."""
    result = run('''
        import pytest

        @pytest.mark.mailflow(real=["smtp"])
        def test_outage(mail_system, dns_records):
            dns_records.fail("example.net", "MX")
            mail_system.send(b"Subject: x\\n\\nx\\n", "a@example.org", "b@example.net")
            mail_system.deliver_all()
            deferral = mail_system.assert_deferred("b@example.net", status="4.4.3")
            assert "Name service error for name=example.net type=MX" in deferral.status.text
    ''')
    result.assert_outcomes(passed=1)


def test_entry_point_names_the_plugin_module():
    """setup.cfg declares the pytest11 entry point mailflow = mailflow.pytest_plugin."""
    cfg = configparser.ConfigParser()
    cfg.read(ROOT / "setup.cfg")
    lines = [line.strip() for line in cfg["options.entry_points"]["pytest11"].splitlines()
             if line.strip()]
    assert lines == ["mailflow = mailflow.pytest_plugin"]


def test_loading_the_plugin_imports_no_mail_system():
    """Loading the plugin (as pytest does at start) leaves mailflow.testing and attrs unimported."""
    code = ("import sys, mailflow.pytest_plugin; "
            "print(sorted(m for m in sys.modules if m.startswith('mailflow') or m == 'attrs'))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=ROOT, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "['mailflow', 'mailflow.pytest_plugin', 'mailflow.submit']"
