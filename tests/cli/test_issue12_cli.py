"""The command-line fixes of issue 12: ``postconf -d`` without a config
directory, ``postconf -n`` with Postfix parameters mailflow does not
implement, the ``mailflow/COMMAND: warning:`` prefix, ``explain --help``.

Postfix 3.7.11 reference answers (``postconf -c DIR ...``):

* ``-d`` with a DIR that does not exist prints the defaults, exit 0
  (config_directory is the compiled-in one); ``-n`` there is
  ``postconf: fatal: open DIR/main.cf: No such file or directory``, exit 1.
* ``-n`` with ``smtp_tls_loglevel``, ``mydestinations`` and ``foo_bar`` set
  prints ``smtp_tls_loglevel = ...`` (a real parameter) and leaves out the two
  unknown names (warned about as "unused parameter").
"""

from __future__ import annotations

import pytest

MAIN_CF = ("relayhost = [smarthost.example]\n"
           "smtp_tls_loglevel = 1\n"
           "mydestinations = x\n"
           "foo_bar = 1\n")


def lines(text: str) -> list[str]:
    return text.splitlines()


# --- postconf -d without a config directory -----------------------------------

def test_postconf_d_prints_defaults_when_the_directory_does_not_exist(run_cli, tmp_path):
    """-d needs no main.cf: the same listing as for an empty directory, exit 0."""
    empty = tmp_path / "empty"
    empty.mkdir()
    missing = run_cli("-c", tmp_path / "nonexistent", "postconf", "-d")
    assert (missing.status, missing.err) == (0, "")
    assert missing.out == run_cli("-c", empty, "postconf", "-d").out
    assert "relayhost =\n" in missing.out and len(lines(missing.out)) > 400


def test_postconf_d_names_and_expansion_without_a_directory(run_cli, tmp_path):
    """-d NAME and -dx work too; config_directory is the built-in default, as in Postfix."""
    missing = tmp_path / "nonexistent"
    result = run_cli("-c", missing, "postconf", "-d", "config_directory", "myorigin")
    assert lines(result.out) == ["config_directory = /etc/mailflow", "myorigin = $myhostname"]
    expanded = run_cli("-c", missing, "postconf", "-dxh", "mydestination")
    assert expanded.status == 0 and "$" not in expanded.out and "localhost" in expanded.out


@pytest.mark.parametrize("args", [("-n",), (), ("relayhost",), ("-e", "relayhost = x")],
                         ids=["-n", "all", "name", "-e"])
def test_postconf_without_d_still_needs_the_directory(run_cli, tmp_path, args):
    """Anything but -d reads main.cf: a missing directory is Postfix's fatal error."""
    missing = tmp_path / "nonexistent"
    result = run_cli("-c", missing, "postconf", *args)
    assert result.status == 1
    assert result.err == f"postconf: fatal: open {missing}/main.cf: No such file or directory\n"
    assert not missing.exists()


# --- postconf -n and Postfix-only parameters -------------------------------------

@pytest.fixture
def postfix_main_cf(config_dir):
    """main.cf with a mailflow parameter, a Postfix-only one and two unknown names."""
    (config_dir / "main.cf").write_text(MAIN_CF)
    return config_dir


def test_postconf_n_prints_a_postfix_parameter_mailflow_does_not_implement(run_cli, postfix_main_cf):
    """-n lists smtp_tls_loglevel as Postfix does, leaves out unknown names, warns once each."""
    result = run_cli("-c", postfix_main_cf, "postconf", "-n")
    assert result.status == 0
    assert lines(result.out) == [f"config_directory = {postfix_main_cf}",
                                 "relayhost = [smarthost.example]",
                                 "smtp_tls_loglevel = 1"]
    main_cf = postfix_main_cf / "main.cf"
    assert lines(result.err) == [
        f'postconf: warning: {main_cf}, line 2: parameter "smtp_tls_loglevel" is not implemented'
        " by mailflow (ignored)",
        f'postconf: warning: {main_cf}, line 3: unknown parameter "mydestinations"; did you mean'
        ' "mydestination"? (ignored)',
        f'postconf: warning: {main_cf}, line 4: unknown parameter "foo_bar" (ignored)']


def test_postconf_lists_and_names_a_postfix_only_parameter(run_cli, postfix_main_cf):
    """The full listing and postconf NAME show it too; -h gives the value alone."""
    full = run_cli("-c", postfix_main_cf, "postconf")
    assert "smtp_tls_loglevel = 1" in lines(full.out)
    assert "foo_bar = 1" not in lines(full.out)
    assert full.err.count("smtp_tls_loglevel") == 1
    named = run_cli("-c", postfix_main_cf, "postconf", "-h", "smtp_tls_loglevel")
    assert (named.status, named.out) == (0, "1\n")


def test_postconf_postfix_only_parameter_without_a_value(run_cli, config_dir):
    """Not set, or asked for with -d: no value to show, and the warning says why."""
    for args in (("smtp_tls_loglevel",), ("-d", "smtp_tls_loglevel")):
        result = run_cli("-c", config_dir, "postconf", *args)
        assert result.out == ""
        assert result.err == ("postconf: warning: smtp_tls_loglevel: parameter is not implemented"
                              " by mailflow\n")
    unknown = run_cli("-c", config_dir, "postconf", "no_such_parameter")
    assert unknown.err == "postconf: warning: no_such_parameter: unknown parameter\n"


# --- the warning prefix ---------------------------------------------------------

COMMANDS = {
    "explain": (("explain", "user@example.org"), "explain"),
    "postqueue": (("postqueue", "-p"), "postqueue"),
    "postqueue-c": (("postqueue", "-c", "{d}", "-p"), "postqueue"),
    "status": (("status",), "status"),
    "flush": (("flush",), "flush"),
}


@pytest.mark.parametrize("args, command", COMMANDS.values(), ids=COMMANDS.keys())
def test_config_warnings_carry_the_command_prefix(run_cli, config_dir, tmp_path, args, command):
    """Each main.cf warning is printed once, as mailflow/COMMAND: warning: FILE, line N: ..."""
    (config_dir / "main.cf").write_text(f"queue_directory = {tmp_path / 'spool'}\n"
                                        "mydestinations = x\n")
    result = run_cli("-c", config_dir, *(a.format(d=config_dir) for a in args))
    warnings = [line for line in lines(result.err) if "warning" in line]
    assert warnings == [f"mailflow/{command}: warning: {config_dir / 'main.cf'}, line 2: unknown"
                        ' parameter "mydestinations"; did you mean "mydestination"? (ignored)']


def test_a_clean_main_cf_gives_no_warning(run_cli, config_dir):
    """The prefix is for real warnings only: a good main.cf prints nothing on stderr."""
    result = run_cli("-c", config_dir, "postqueue", "-p")
    assert (result.status, result.out, result.err) == (0, "Mail queue is empty\n", "")


# --- explain --help ---------------------------------------------------------------

@pytest.mark.parametrize("args", [("explain", "--help"), ("explain", "-h"),
                                  ("explain", "--json", "--help")], ids=["--help", "-h", "late"])
def test_explain_help_is_a_full_usage_text(run_cli, config_dir, args):
    """--help shows both forms and describes every option; exit 0, nothing on stderr."""
    result = run_cli("-c", config_dir, *args)
    assert (result.status, result.err) == (0, "")
    assert result.out.startswith("usage: mailflow explain [--sender ADDRESS] [--json] ADDRESS...\n")
    described = [line.split()[0] for line in lines(result.out) if line.startswith("  -")]
    assert described == ["--sender", "--json", "--smtpd", "--client", "--client-name", "--helo",
                         "-h,"]


def test_explain_usage_error_stays_short(run_cli, config_dir):
    """A bad option gets the usage lines only, on stderr, with EX_USAGE."""
    result = run_cli("-c", config_dir, "explain", "--bogus", "a@example.org")
    assert result.status == 64
    assert result.err.startswith("mailflow/explain: unknown option --bogus\nusage: ")
    assert "Options:" not in result.err


def test_sendmail_keeps_main_cf_warnings_off_stderr(run_cli, config_dir, tmp_path, caplog):
    """Programs run sendmail: a main.cf warning goes to the log, not to its stderr."""
    (config_dir / "main.cf").write_text(f"queue_directory = {tmp_path / 'spool'}\n"
                                        "mydestinations = x\nhash_queue_depth = 1\n")
    result = run_cli("-c", config_dir, "sendmail", "-f", "a@example.org", "b@example.net",
                     stdin="Subject: x\n\nbody\n")
    assert (result.status, result.err) == (0, "")
    assert any('unknown parameter "mydestinations"' in r.getMessage() for r in caplog.records
               if r.name == "mailflow.config")
