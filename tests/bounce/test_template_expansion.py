"""bounce(5) template text is expanded with main.cf's ``$name`` language."""

import pytest

from mailflow.bounce import load_templates
from mailflow.bounce.templates import Template
from mailflow.errors import ConfigError

PARAMS = {"myhostname": "mx.example.com", "delay_warning_time": 14400,
          "maximal_queue_lifetime": 432000}


def body(text: str) -> Template:
    return Template("us-ascii", "MAILER-DAEMON", "s", "s", text)


@pytest.mark.parametrize("text, expected", [
    ("$myhostname", "mx.example.com"),
    ("${myhostname}.", "mx.example.com."),
    ("$delay_warning_time_hours hour(s)", "4 hour(s)"),
    ("$maximal_queue_lifetime_days day(s)", "5 day(s)"),
    ("$delay_warning_time_minutes", "240"),
    ("${myhostname?{known}:{unknown}}", "known"),
    ("costs $$5", "costs $5"),
    ("$mydomain stays", "$mydomain stays"),
], ids=["bare", "braced", "hours", "days", "minutes", "conditional", "dollar-dollar", "unknown"])
def test_template_text_expands(text, expected):
    """Names, time-unit suffixes and main.cf's conditional forms expand as in main.cf."""
    assert body(text).render(PARAMS) == expected


def test_bad_name_syntax_is_a_config_error_at_load_time():
    """An unbalanced ``${`` in a template file fails when the file is loaded, naming the file."""
    with pytest.raises(ConfigError, match=r"^bt\.cf: bad \$name syntax in delay_template"):
        load_templates("delay_template = <<EOF\nSubject: x\n\nat ${myhostname\nEOF\n", "bt.cf")
