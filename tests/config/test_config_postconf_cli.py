"""``mailflow postconf`` through the CLI, and against Postfix's captured output.

The ``*.ref`` files in golden/ were captured from Postfix 3.7.11 with
``postconf -c DIR ARGS`` on a directory holding golden/main.cf and
golden/master.cf (the ``config_directory`` line is written as
``@CONFIG_DIR@``); the ``edit-*.ref`` files are DIR/main.cf or DIR/master.cf
after ``postconf -c DIR`` with the edit arguments listed in EDITS below.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest

GOLDEN = Path(__file__).parent / "golden"


@pytest.fixture
def sample(tmp_path: Path) -> Path:
    """A config directory holding the golden main.cf and master.cf."""
    d = tmp_path / "etc"
    d.mkdir()
    shutil.copy(GOLDEN / "main.cf", d / "main.cf")
    shutil.copy(GOLDEN / "master.cf", d / "master.cf")
    return d


def ref(name: str, config_dir: Path) -> str:
    return (GOLDEN / name).read_text().replace("@CONFIG_DIR@", str(config_dir))


SHOW = [
    ("-n", ["-n"], "postconf-n.ref"),
    ("-nx", ["-nx"], "postconf-nx.ref"),
    ("-nf", ["-nf"], "postconf-nf.ref"),
    ("-M", ["-M"], "postconf-M.ref"),
    ("-Mf", ["-Mf"], "postconf-Mf.ref"),
    ("-P", ["-P"], "postconf-P.ref"),
    ("-F relay/unix", ["-F", "relay/unix"], "postconf-F.ref"),
]


def without_config_directory(text: str) -> str:
    """The listing minus the config_directory entry (its folding depends on the path)."""
    return re.sub(r"^config_directory =.*\n(    .*\n)*", "", text, flags=re.M)


@pytest.mark.parametrize("args,refname", [c[1:] for c in SHOW], ids=[c[0] for c in SHOW])
def test_output_matches_postfix(run_cli, sample, args, refname):
    """The output is what Postfix's postconf printed for the same files."""
    result = run_cli("-c", sample, "postconf", *args)
    want = ref(refname, sample)
    if "f" in args[0]:
        result_out, want = without_config_directory(result.out), without_config_directory(want)
    else:
        result_out = result.out
    assert (result.status, result_out) == (0, want)


EDITS = [
    ("-e", ["-e", "relayhost = [new.example]", "mydestination=$myhostname",
            " message_size_limit =  0 "], "main.cf", "edit-e.main.cf.ref"),
    ("-X", ["-X", "relayhost", "mydestination", "nosuch"], "main.cf", "edit-X.main.cf.ref"),
    ("-#", ["-#", "relayhost", "smtpd_recipient_restrictions"], "main.cf",
     "edit-comment.main.cf.ref"),
    ("-Me", ["-Me", "relay/unix = relay unix - - n - 20 smtp -o smtp_helo_timeout=10s"
                    " -o { smtp_bind_address = 127.0.0.1 }",
             "new/unix=new   unix - n n - - pipe flags=F user=nobody argv=/bin/cat ${recipient}"],
     "master.cf", "edit-Me.master.cf.ref"),
    ("-MX", ["-MX", "relay/unix", "127.0.0.1:10026/inet"], "master.cf", "edit-MX.master.cf.ref"),
    ("-M#", ["-M#", "submission/inet"], "master.cf", "edit-Mcomment.master.cf.ref"),
]


@pytest.mark.parametrize("args,filename,refname", [c[1:] for c in EDITS], ids=[c[0] for c in EDITS])
def test_edits_match_postfix(run_cli, sample, args, filename, refname):
    """An edit leaves the file exactly as Postfix's postconf left it."""
    result = run_cli("-c", sample, "postconf", *args)
    assert (result.status, result.out) == (0, "")
    assert (sample / filename).read_text() == (GOLDEN / refname).read_text()


def test_edit_leaves_no_temporary_files(run_cli, sample):
    """The atomic rewrite cleans up after itself and keeps the file mode."""
    os.chmod(sample / "main.cf", 0o640)
    run_cli("-c", sample, "postconf", "-e", "relayhost = x")
    assert sorted(p.name for p in sample.iterdir()) == ["main.cf", "master.cf"]
    assert (sample / "main.cf").stat().st_mode & 0o777 == 0o640


def test_edit_creates_a_missing_main_cf(run_cli, tmp_path):
    """-e on a directory without main.cf creates it."""
    run_cli("-c", tmp_path, "postconf", "-e", "relayhost=[x]")
    assert (tmp_path / "main.cf").read_text() == "relayhost = [x]\n"


def test_edit_without_equals_fails(run_cli, sample):
    """-e with an argument that is not name=value fails and changes nothing."""
    before = (sample / "main.cf").read_text()
    result = run_cli("-c", sample, "postconf", "-e", "nonsense")
    assert result.status != 0
    assert "missing '=' after attribute name: \"nonsense\"" in result.err
    assert (sample / "main.cf").read_text() == before


def test_named_parameters_in_the_order_given(run_cli, sample):
    """``postconf name...`` prints those parameters, set or default."""
    result = run_cli("-c", sample, "postconf", "relayhost", "maximal_queue_lifetime",
                     "minimal_backoff_time")
    assert result.out == ("relayhost = [smtp.example.net]:2525\nmaximal_queue_lifetime = 3d\n"
                          "minimal_backoff_time = 300s\n")


def test_value_only_with_h(run_cli, sample):
    """-h prints the value alone."""
    assert run_cli("-c", sample, "postconf", "-h", "myorigin").out == "$mydomain\n"
    assert run_cli("-c", sample, "postconf", "-hx", "myorigin").out == "example.com\n"


def test_defaults_with_d(run_cli, sample):
    """-d prints the built-in default even when main.cf sets the parameter."""
    result = run_cli("-c", sample, "postconf", "-d", "maximal_queue_lifetime", "relayhost",
                     "syslog_name")
    assert result.out == ("maximal_queue_lifetime = 5d\nrelayhost =\n"
                          "syslog_name = ${multi_instance_name?{$multi_instance_name}:{mailflow}}\n")


def test_unknown_name_is_a_postfix_style_warning(run_cli, sample):
    """An unknown name asked for gets ``postconf: warning: NAME: unknown parameter``."""
    result = run_cli("-c", sample, "postconf", "relay_host")
    assert (result.status, result.out) == (0, "")
    assert "postconf: warning: relay_host: unknown parameter\n" in result.err


def test_main_cf_warnings_are_printed(run_cli, sample):
    """Warnings about main.cf (redefinitions, unknown names) go to stderr."""
    err = run_cli("-c", sample, "postconf", "-n").err
    assert f"postconf: warning: {sample}/main.cf, line 23: overriding earlier entry:" in err
    assert f'{sample}/main.cf, line 22: unknown parameter "my_filter_port" (ignored)' in err


def test_all_parameters_sorted_with_per_transport_names(run_cli, sample):
    """Plain postconf lists every parameter sorted, plus per-transport names of
    master.cf's delivery services (relay runs smtp, filter runs pipe)."""
    lines = run_cli("-c", sample, "postconf").out.splitlines()
    names = [line.split(" =")[0] for line in lines]
    assert names == sorted(names)
    assert "relay_destination_concurrency_limit = $default_destination_concurrency_limit" in lines
    assert "filter_time_limit = $command_time_limit" in lines
    assert "relay_time_limit" not in names and "pickup_destination_recipient_limit" not in names


def test_M_selects_services(run_cli, sample):
    """-M name/type and -M name select entries; an unmatched request is warned about."""
    result = run_cli("-c", sample, "postconf", "-M", "pickup/unix", "relay", "nosuch/inet")
    assert [line.split()[0] for line in result.out.splitlines()] == ["pickup", "relay"]
    assert 'postconf: warning: unmatched request: "nosuch/inet"' in result.err


def test_Me_rejects_a_mismatched_key(run_cli, sample):
    """-Me with a name/type that differs from the entry's is an error."""
    result = run_cli("-c", sample, "postconf", "-Me", "smtp/inet = smtp unix - - n - - smtp")
    assert result.status != 0


def test_o_overrides_for_display(run_cli, sample):
    """-o name=value changes what this run shows, not the file."""
    result = run_cli("-c", sample, "postconf", "-o", "relayhost=[other]", "-h", "relayhost")
    assert result.out == "[other]\n"


def test_c_after_the_command(run_cli, sample):
    """``postconf -c DIR`` works as well as ``mailflow -c DIR postconf``."""
    assert run_cli("postconf", "-c", sample, "-h", "mydomain").out == "example.com\n"


def test_bad_option_is_a_usage_error(run_cli, sample):
    """An unknown option fails with a usage message."""
    result = run_cli("-c", sample, "postconf", "-Z")
    assert result.status != 0 and "usage:" in result.err
