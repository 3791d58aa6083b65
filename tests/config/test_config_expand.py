"""``$name`` expansion: every form postconf(5) documents, and loop detection."""

from __future__ import annotations

import pytest

from mailflow.config import Config
from mailflow.config.expand import compare_levels, expand_value
from mailflow.errors import ConfigError, ExpansionLoopError

ENV = {"full": "x", "empty": "", "n3": "3", "n10": "10", "level": "3.6", "ref": "$full"}

# (id, text, expansion with ENV; unknown names are undefined)
CASES = [
    ("$name", "a $full b", "a x b"),
    ("${name}", "a${full}b", "axb"),
    ("$(name)", "a$(full)b", "axb"),
    ("undefined is empty", "[$nosuch]", "[]"),
    ("name ends at non-name char", "$full.example", "x.example"),
    ("$$ is a dollar", "cost $$5", "cost $5"),
    ("? on non-empty", "${full?yes}", "yes"),
    ("? on empty", "${empty?yes}", ""),
    ("? on undefined", "${nosuch?yes}", ""),
    (": on empty", "${empty:dflt}", "dflt"),
    (": on non-empty", "${full:dflt}", ""),
    ("? value keeps whitespace", "${full?; $full}", "; x"),
    ("?{value} trims whitespace", "${full?{  v  }}", "v"),
    (":{value}", "${empty:{ v }}", "v"),
    ("?{v1}:{v2} true", "${full?{one}:{two}}", "one"),
    ("?{v1}:{v2} false", "${empty?{one}:{two}}", "two"),
    ("?{v1}:v2 unbraced", "${empty?{one}:two}", "two"),
    ("values expand recursively", "${full?{[$full]}}", "[x]"),
    ("nested conditionals", "${empty?{a}:{${full?{b}:{c}}}}", "b"),
    ("time suffix after braces", "${empty?{10}:{300}}s", "300s"),
    ("braces in value nest", "${full?{{a}}}", "{a}"),
    ("== numeric", "${{$n3} == {03} ? {eq} : {ne}}", "eq"),
    ("!=", "${{a} != {b} ? {ne} : {eq}}", "ne"),
    ("< numeric not lexical", "${{$n3} < {$n10} ? {lt} : {ge}}", "lt"),
    ("< lexical", "${{b} < {a} ? {lt} : {ge}}", "ge"),
    (">=", "${{$n10} >= {10} ? {yes}}", "yes"),
    ("<level", "${{$level} <level {2} ? {old} : {new}}", "new"),
    ("<level true", "${{1} <level {2} ? {old} : {new}}", "old"),
    ("references in referenced values are the lookup's job", "$ref", "$full"),
]


@pytest.mark.parametrize("text,expected", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_expansion_cases(text, expected):
    """Each expression expands as postconf(5) describes."""
    assert expand_value(text, ENV.get) == expected


# Postfix's defaults that use the compatibility-level expressions, as printed
# by `postconf -d NAME` (Postfix 3.7.11), and their value at level 3.6.
COMPAT_DEFAULTS = [
    ("append_dot_mydomain", "${{$compatibility_level} <level {1} ? {yes} : {no}}", "no"),
    ("mynetworks_style", "${{$compatibility_level} <level {2} ? {subnet} : {host}}", "host"),
    ("relay_domains", "${{$compatibility_level} <level {2} ? {$mydestination} : {}}", ""),
    ("smtputf8_enable", "${{$compatibility_level} <level {1} ? {no} : {yes}}", "yes"),
    ("smtpd_relay_restrictions",
     "${{$compatibility_level} <level {1} ? {} : {permit_mynetworks, permit_sasl_authenticated,"
     " defer_unauth_destination}}",
     "permit_mynetworks, permit_sasl_authenticated, defer_unauth_destination"),
]


@pytest.mark.parametrize("name,postfix,at_36", [c for c in COMPAT_DEFAULTS],
                         ids=[c[0] for c in COMPAT_DEFAULTS])
def test_compatibility_expressions_match_the_table(name, postfix, at_36):
    """Postfix's level-dependent default, evaluated at 3.6, is mailflow's default."""
    assert Config(compatibility_level="3.6").expand_text(postfix) == at_36
    assert Config().expand(name) == at_36


def test_level_comparison_is_by_number_parts():
    """Levels compare part by part as numbers, missing parts being zero."""
    assert [compare_levels("3.10", "3.9"), compare_levels("2", "2.0.0"),
            compare_levels("1", "3.6")] == [1, 0, -1]


@pytest.mark.parametrize("text", ["${full", "${full?{x}", "${-x}", "${{a} ~ {b} ? {x}}",
                                  "${full!x}"],
                         ids=["unclosed", "unclosed braced value", "bad name",
                              "bad operator", "bad separator"])
def test_malformed_expressions_are_config_errors(text):
    """A malformed expression is a ConfigError, not a crash or silent text."""
    with pytest.raises(ConfigError):
        expand_value(text, ENV.get)


def test_config_expands_recursively_and_lazily():
    """A value's references are expanded through other parameters' values."""
    cfg = Config(mydomain="example.com", myhostname="mx.$mydomain", myorigin="$mydomain")
    assert cfg.expand("mydestination") == "mx.example.com, localhost.example.com, localhost"


def test_unused_branch_is_not_expanded():
    """A reference in the branch not taken is never looked at (no loop error)."""
    cfg = Config(a="${empty_thing?{$a}:{fine}}")
    assert cfg.expand("a") == "fine"


def test_loop_is_detected_and_names_the_chain():
    """$a -> $b -> $a raises ExpansionLoopError naming the chain, file and line."""
    cfg = Config.from_string("a = $b\nb = x $c\nc = ${a}\n", log_warnings=False)
    with pytest.raises(ExpansionLoopError) as info:
        cfg.expand("a")
    assert str(info.value) == ("main.cf, line 1: a: parameter expansion loop:"
                               " $a -> $b -> $c -> $a")


def test_self_reference_is_a_loop():
    """A parameter that refers to itself is a loop, not infinite recursion."""
    with pytest.raises(ExpansionLoopError, match=r"\$relayhost -> \$relayhost"):
        Config(relayhost="[$relayhost]").expand("relayhost")


def test_loop_is_reported_by_validate():
    """validate() lists a loop among the errors instead of raising it."""
    cfg = Config.from_string("a = $b\nb = $a\n", log_warnings=False)
    errors = cfg.validate()
    assert errors and all(isinstance(e, ExpansionLoopError) for e in errors)
