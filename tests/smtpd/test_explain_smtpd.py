"""``mailflow explain --smtpd``: the restriction trace from the command line."""

from __future__ import annotations

import json


MAIN_CF = """\
myhostname = mx.example.com
mydestination = example.com, $myhostname
local_recipient_maps = inline:{ann=1}
smtpd_helo_restrictions = reject_non_fqdn_helo_hostname
smtpd_sender_restrictions = check_sender_access inline:{ {spam@bad.example=REJECT no spam} }
"""


def write(config_dir, text=MAIN_CF):
    (config_dir / "main.cf").write_text((config_dir / "main.cf").read_text() + text)


def test_text_trace_shows_relay_denied(run_cli, config_dir):
    """An outside client relaying gets the 454 and the restriction that said so."""
    write(config_dir)
    res = run_cli("-c", config_dir, "explain", "--smtpd", "--client", "203.0.113.5",
                  "--helo", "client.example.net", "--sender", "a@example.net", "x@other.example")
    assert res.status == 0, res.err
    lines = res.out.splitlines()
    assert lines[0] == "x@other.example:"
    assert "  RCPT: defer: 454 4.7.1 <x@other.example>: Relay access denied" in lines
    assert any("smtpd_relay_restrictions: defer_unauth_destination -> DEFER 454 4.7.1" in line
               for line in lines)


def test_json_has_one_object_per_recipient_and_stage(run_cli, config_dir):
    """--json prints one object per stage per recipient with the documented keys."""
    write(config_dir)
    res = run_cli("-c", config_dir, "explain", "--smtpd", "--json", "--helo", "c.example.net",
                  "--sender", "a@example.net", "ann@example.com", "nobody@example.com")
    assert res.status == 0, res.err
    objs = [json.loads(line) for line in res.out.splitlines()]
    assert [(o["recipient"], o["stage"]) for o in objs] == [
        ("ann@example.com", "CONNECT"), ("ann@example.com", "HELO"), ("ann@example.com", "MAIL"),
        ("ann@example.com", "RCPT"), ("ann@example.com", "DATA"),
        ("ann@example.com", "END-OF-MESSAGE"),
        ("nobody@example.com", "CONNECT"), ("nobody@example.com", "HELO"),
        ("nobody@example.com", "MAIL"), ("nobody@example.com", "RCPT")]
    assert set(objs[0]) == {"recipient", "stage", "verdict", "reply", "trace", "hold", "discard",
                            "filter", "redirect", "prepend", "warnings"}
    last = objs[-1]
    assert last["verdict"] == "reject"
    assert last["reply"] == ("550 5.1.1 <nobody@example.com>: Recipient address rejected: "
                             "User unknown in local recipient table")
    assert set(last["trace"][0]) == {"restriction_list", "restriction", "result", "detail"}


def test_sender_rejection_and_null_sender(run_cli, config_dir):
    """--sender feeds the sender restrictions; <> is the null sender."""
    write(config_dir)
    res = run_cli("-c", config_dir, "explain", "--smtpd", "--helo", "c.example.net",
                  "--sender", "spam@bad.example", "ann@example.com")
    assert "  RCPT: reject: 554 5.7.1 <spam@bad.example>: Sender address rejected: no spam" \
        in res.out.splitlines()
    res = run_cli("-c", config_dir, "explain", "--smtpd", "--sender", "<>", "ann@example.com")
    assert res.status == 0 and "  RCPT: accept" in res.out.splitlines()


def test_bad_flags_and_addresses(run_cli, config_dir):
    """A bad --client is a usage error; smtpd flags need --smtpd; a bad address is 65."""
    assert run_cli("-c", config_dir, "explain", "--smtpd", "--client", "nope", "a@b.c").status == 64
    assert run_cli("-c", config_dir, "explain", "--helo", "x.example", "a@b.c").status == 64
    assert run_cli("-c", config_dir, "explain", "--smtpd", "a@[1.2").status == 65


def test_plain_explain_is_unchanged(run_cli, config_dir):
    """Without --smtpd, explain still routes addresses."""
    write(config_dir)
    res = run_cli("-c", config_dir, "explain", "--json", "ann@example.com")
    assert res.status == 0
    assert json.loads(res.out.splitlines()[0])["class"] == "local"
