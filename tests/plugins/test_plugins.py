"""Discovery through entry points: each group reaches its registry, and the
conflict and import-failure rules (in process, real dist-info directories)."""

from __future__ import annotations

import asyncio
import doctest
import re
from pathlib import Path

import pytest

from mailflow import plugins
from mailflow.cleanup.pipeline import CleanupPipeline
from mailflow.cleanup.rules import configured_rules, register_cleanup_rule, unregister_cleanup_rule
from mailflow.config import Config
from mailflow.config.master_cf import parse_master_cf
from mailflow.delivery.registry import agent_factory, agent_names, create_agent
from mailflow.errors import ConfigError, TableError
from mailflow.model import DeliveryRequest, Envelope, Message, Recipient
from mailflow.plugins import PluginError, check_plugins
from mailflow.tables import open_table, register_plugin_types, table_types

AGENT = """
from mailflow.model import DsnStatus, Outcome

class Agent:
    def __init__(self, cfg, service):
        self.args = service.args if service else ()

    async def deliver(self, request):
        return [Outcome(r, DsnStatus("2.0.0", " ".join(self.args)), relay="test")
                for r in request.recipients]
"""

TABLE = """
from mailflow.tables import CallableTable

def open_upper(name, cfg):
    return CallableTable(lambda key: (name + ":" + key).upper())
"""

RULE = """
from mailflow.cleanup.rules import header_rule

def hold_marked(cfg):
    return header_rule(lambda name, value: "HOLD" if name.lower() == "x-hold" else None)

class Warn:
    def check_body(self, line):
        return "WARN odd line" if "odd" in line else None

warn = Warn()
"""

RESTRICTION = """
def reject_all(facts):
    return "REJECT no thanks"
"""


def test_agent_plugin_is_a_master_cf_command(installed):
    installed("hook", {"mailflow.agents": {"hookagent": "agent:Agent"}}, {"agent": AGENT})
    assert "hookagent" in agent_names()
    service = parse_master_cf("mine unix - n n - - hookagent to=there\n").transport("mine")
    agent = create_agent("mine", Config(), service)
    r = Recipient("a@example.com")
    [outcome] = asyncio.run(agent.deliver(DeliveryRequest(
        "Q1", "mine", "example.com", Envelope("s@example.com", (r,)), (r,), Message(b"\n"))))
    assert (str(outcome.status), outcome.relay) == ("2.0.0 to=there", "test")


def test_agent_plugin_is_imported_only_when_used(installed):
    prefix = installed("hook", {"mailflow.agents": {"hookagent": "agent:Agent"}},
                       {"agent": AGENT})
    import sys
    agent_names()
    assert prefix + "agent" not in sys.modules
    assert agent_factory("hookagent") is not None
    assert prefix + "agent" in sys.modules


def test_plugin_cannot_shadow_a_builtin_agent(installed):
    prefix = installed("evil", {"mailflow.agents": {"smtp": "agent:Agent"}}, {"agent": AGENT})
    # The built-in stays in use; check and start report the claim.
    assert agent_factory("smtp").__qualname__ == "mailflow.delivery.smtp.SmtpAgent"
    [error] = check_plugins()
    assert str(error) == (f'mailflow.agents entry point "smtp = {prefix}agent:Agent" '
                          "(evil 1.0) claims the name of a built-in delivery agent")


def test_table_plugin_is_a_type(installed):
    installed("up", {"mailflow.tables": {"upper": "table:open_upper"}}, {"table": TABLE})
    assert register_plugin_types() == ["upper"]
    assert "upper" in table_types()
    assert open_table("upper:x").get("key") == "X:KEY"


def test_cleanup_rules_from_plugins_and_python(installed):
    installed("rules", {"mailflow.cleanup_rules": {"hold_marked": "rule:hold_marked",
                                                   "warn_odd": "rule:warn"}}, {"rule": RULE})
    register_cleanup_rule("extra", lambda cfg: None)
    try:
        cfg = Config(cleanup_rules="hold_marked, warn_odd")
        assert len(configured_rules(cfg)) == 2
        pipeline = CleanupPipeline.from_config(cfg)
        result = pipeline.process(Envelope("a@example.com", (Recipient("b@example.com"),)),
                                  Message(b"X-Hold: 1\nSubject: s\n\nodd\n"))
        assert result.action == "hold"
        assert any("warning: body odd from local;" in line and line.endswith(": odd line") for line in result.log), result.log
        with pytest.raises(ConfigError, match='cleanup rule "extra" is .*neither a rule'):
            configured_rules(Config(cleanup_rules="extra"))
    finally:
        unregister_cleanup_rule("extra")


def test_unknown_cleanup_rule_is_reported_by_check(site_dir):
    errors = check_plugins(Config(cleanup_rules="nosuch"))
    assert [str(e) for e in errors] == [
        'cleanup_rules: unknown cleanup rule "nosuch" (no rule registered and no '
        'mailflow.cleanup_rules plug-in of that name)']


def test_restriction_plugin_is_found_without_case(installed):
    installed("rr", {"mailflow.restrictions": {"Reject_All": "restr:reject_all"}},
              {"restr": RESTRICTION})
    func = plugins.load("mailflow.restrictions", "reject_all")
    assert func(None) == "REJECT no thanks"


def test_a_name_two_plugins_claim_is_an_error(installed):
    installed("one", {"mailflow.agents": {"dup": "agent:Agent"}}, {"agent": AGENT})
    installed("two", {"mailflow.agents": {"dup": "agent2:Agent"}}, {"agent2": AGENT})
    with pytest.raises(PluginError) as caught:
        agent_factory("dup")
    text = str(caught.value)
    assert text.startswith('delivery agent name "dup" is claimed by 2 plug-ins: ')
    assert "(one 1.0)" in text and "(two 1.0)" in text
    assert [str(e) for e in check_plugins()] == [text]


def test_a_table_type_two_plugins_claim_fails_at_open(installed):
    installed("one", {"mailflow.tables": {"dupt": "table:open_upper"}}, {"table": TABLE})
    installed("two", {"mailflow.tables": {"dupt": "table2:open_upper"}}, {"table2": TABLE})
    register_plugin_types()
    with pytest.raises(TableError, match='^dupt:x: table type name "dupt" is claimed by 2'):
        open_table("dupt:x")


@pytest.mark.parametrize("source, exc", [
    ("import no_such_module_anywhere\n", "ModuleNotFoundError: No module named "
                                         "'no_such_module_anywhere'"),
    ("def broken(:\n", "SyntaxError: "),
    ("raise RuntimeError('needs a licence key')\n", "RuntimeError: needs a licence key"),
    ("x = 1\n", "AttributeError: "),
])
def test_a_plugin_that_fails_to_import_names_entry_point_and_exception(installed, source, exc):
    prefix = installed("bad", {"mailflow.agents": {"badagent": "bad:Agent"}}, {"bad": source})
    [error] = check_plugins()
    assert str(error).startswith(f'cannot load mailflow.agents entry point "badagent = '
                                 f'{prefix}bad:Agent" (bad 1.0): {exc}')
    with pytest.raises(PluginError):
        agent_factory("badagent")


def test_the_same_distribution_twice_on_the_path_is_no_conflict(installed, tmp_path,
                                                                 monkeypatch):
    import shutil
    prefix = installed("twice", {"mailflow.agents": {"twiceagent": "agent:Agent"}},
                       {"agent": AGENT})
    other = tmp_path / "other"
    shutil.copytree(tmp_path / "site", other)
    monkeypatch.syspath_prepend(str(other))
    plugins.reset()
    assert [p.value for p in plugins.plugins("mailflow.agents")
            if p.name == "twiceagent"] == [f"{prefix}agent:Agent"]
    assert check_plugins() == []


def test_a_table_type_registered_from_python_wins(installed):
    from mailflow.tables import CallableTable, register_table_type
    installed("up", {"mailflow.tables": {"mine": "table:open_upper"}}, {"table": TABLE})
    register_table_type("mine", lambda name, cfg: CallableTable(lambda key: "python"))
    assert register_plugin_types() == []
    assert open_table("mine:x").get("k") == "python"


DOCS = Path(__file__).resolve().parents[2] / "docs" / "plugins.md"


def test_docs_page_examples_run(site_dir):
    """The pycon blocks of docs/plugins.md give the output written there."""
    text = DOCS.read_text()
    blocks = re.findall(r"```pycon\n(.*?)```", text, re.S)
    assert len(blocks) == 2
    parser, runner = doctest.DocTestParser(), doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    for i, block in enumerate(blocks):
        runner.run(parser.get_doctest(block, {}, f"plugins.md[{i}]", str(DOCS), 0))
    assert runner.summarize(verbose=False).failed == 0


def test_docs_page_names_what_the_example_package_declares():
    """The entry points shown in docs/plugins.md are examples/plugin's own."""
    shown = re.search(r"```toml\n(.*?)```", DOCS.read_text(), re.S).group(1)
    pyproject = (DOCS.parents[1] / "examples" / "plugin" / "pyproject.toml").read_text()
    for line in shown.splitlines():
        if line.strip():
            assert line in pyproject.splitlines(), line
