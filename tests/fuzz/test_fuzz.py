"""Every parser that reads outside input, fuzzed on a small budget.

The same targets as ``fuzz/run.py`` (which runs them at a large budget):
no input may raise anything but the target's documented error types, or
take more than a second.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings

from fuzz.targets import SLOW, TARGETS, SlowInput, Target, check


@pytest.mark.parametrize("name", list(TARGETS))
def test_parser_survives_fuzzing(name):
    """The target returns or raises a documented error, fast, for every generated input."""
    target = TARGETS[name]

    @settings(max_examples=150, deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
    @given(target.inputs)
    def fuzz(value):
        check(target, value)
    fuzz()


def test_check_reports_what_breaks_the_promise():
    """check() lets documented errors through quietly and reports others and slow inputs (so the fuzz tests can fail)."""
    import time

    def boom(value):
        raise {"doc": ValueError, "bug": IndexError}[value]("x")
    target = Target("t", None, boom, (ValueError,))
    check(target, "doc")
    with pytest.raises(IndexError):
        check(target, "bug")
    slow = Target("slow", None, lambda v: time.sleep(SLOW + 0.05))     # slow every time
    with pytest.raises(SlowInput):
        check(slow, "x")


def test_empty_dsn_code_is_a_documented_error():
    """An empty status code is refused with a MailflowError like any bad code."""
    from mailflow.errors import MailflowError
    from mailflow.model import DsnStatus
    with pytest.raises(MailflowError):
        DsnStatus.parse("")


def test_myhostname_from_mydomain_is_an_expansion_loop():
    """A main.cf whose myhostname refers to the default mydomain is a ConfigError (a loop), not a crash."""
    from mailflow.config import Config
    from mailflow.errors import ConfigError
    with pytest.raises(ConfigError):
        Config(myhostname="$mydomain")["myhostname"]
