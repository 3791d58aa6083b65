"""The same ldap: .cf files queried with Postfix's postmap -q (postfix-ldap)
and with mailflow's give the same answers, against the same slapd.

Skipped when Postfix's postmap, its ldap: client or slapd is missing.
"""

from __future__ import annotations

import shutil
import subprocess

import pytest

from .ldap_server import BASE, READER_DN, READER_PW, free_port, ldap_cf, slapd  # noqa: F401

MAIL = "query_filter = (mailLocalAddress=%s)\nresult_attribute = mail\n"
ROUTING = "query_filter = (mailLocalAddress=%s)\nresult_attribute = mailRoutingAddress\n"
GROUPS = MAIL + "special_result_attribute = member\n"

CONFIGS = {
    "single": ROUTING,
    "multi-valued": MAIL,
    "two-attributes": "query_filter = (mailLocalAddress=%s)\n"
                      "result_attribute = mail, mailRoutingAddress\n",
    "groups": GROUPS,
    "leaf": "query_filter = (mailLocalAddress=%s)\nresult_attribute = mailRoutingAddress\n"
            "leaf_result_attribute = mail\nspecial_result_attribute = member\n",
    "terminal": GROUPS + "terminal_result_attribute = mailRoutingAddress\n",
    "user-domain": "query_filter = (&(uid=%u)(mail=%u@%d))\n"
                   "result_attribute = mailRoutingAddress\n",
    "labels": "query_filter = (mailLocalAddress=%u@%2.%1)\nresult_attribute = mail\n",
    "dynamic-base": f"search_base = ou=%d,{BASE}\nquery_filter = (uid=%u)\n"
                    "result_attribute = mailRoutingAddress\n",
    "domain": ROUTING + "domain = example.org, example.net\n",
    "result-format": ROUTING + "result_format = smtp:[%d]\n",
    "result-format-key": MAIL + "result_format = %U for %s at %D\n",
    "scope-one": f"search_base = ou=people,{BASE}\nscope = one\n" + ROUTING,
    "scope-base": f"search_base = uid=joe,ou=people,{BASE}\nscope = base\n" + ROUTING,
    "bind": ROUTING + f"bind_dn = {READER_DN}\nbind_pw = {READER_PW}\n",
    "no-bind": ROUTING + "bind = no\n",
    "version-3": GROUPS + "version = 3\n",
    "url-members": MAIL + "special_result_attribute = labeledURI\n",
    "url-members-two": "query_filter = (mailLocalAddress=%s)\n"
                       "result_attribute = mail, mailRoutingAddress\n"
                       "special_result_attribute = labeledURI\n",
}

KEYS = ["joe@example.com", "JOE@Example.COM", "joe.doe@example.com", "multi@example.com",
        "staff@example.com", "all@example.com", "routed@example.com", "urlgroup@example.com", "bob@example.org",
        "ann@mail.example.com", "st*r@example.com", "*@example.com", "nobody@example.com",
        "joe", "@example.com", "ann@com", "(mail=*)"]


@pytest.fixture
def postfix_ldap(real_postfix):
    """Postfix's postmap with its ldap: client; skipped without postfix-ldap."""
    if shutil.which("postconf") is None:
        pytest.skip("Postfix's postconf is not installed")
    types = subprocess.run(["postconf", "-m"], capture_output=True, text=True).stdout.split()
    if "ldap" not in types:
        pytest.skip("Postfix's ldap: client is not installed (apt-get install postfix-ldap)")
    return real_postfix


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_same_answers_as_postfix(postfix_ldap, run_cli, config_dir, ldap_cf, name):
    """Every key gets the same answer (or none) from both postmaps."""
    spec = f"ldap:{ldap_cf(CONFIGS[name])}"
    stdin = "".join(f"{key}\n" for key in KEYS)
    theirs = postfix_ldap("postmap", "-q", "-", spec, stdin=stdin)
    mine = run_cli("-c", config_dir, "postmap", "-q", "-", spec, stdin=stdin)
    assert "fatal" not in theirs.stderr
    assert mine.out.splitlines() == theirs.stdout.splitlines()
    assert mine.status == theirs.returncode


@pytest.mark.parametrize("name, key", [("multi-valued", "multi@example.com"),
                                       ("groups", "nobody@example.com"),
                                       ("domain", "joe@example.com")])
def test_same_exit_status_for_one_key(postfix_ldap, run_cli, config_dir, ldap_cf, name, key):
    """postmap -q KEY: the same output and exit status (0 found, 1 not found)."""
    spec = f"ldap:{ldap_cf(CONFIGS[name])}"
    theirs = postfix_ldap("postmap", "-q", key, spec)
    mine = run_cli("-c", config_dir, "postmap", "-q", key, spec)
    assert (mine.status, mine.out) == (theirs.returncode, theirs.stdout)


@pytest.mark.parametrize("text", [
    MAIL + "expansion_limit = 2\n",
    "query_filter = (|(mailLocalAddress=%s)(objectClass=inetOrgPerson))\n"
    "result_attribute = uid\nsize_limit = 2\n",
    ROUTING + f"bind_dn = {READER_DN}\nbind_pw = wrong\n",
    f"search_base = ou=nowhere,{BASE}\n" + ROUTING,
    "server_host = ldap://127.0.0.1:{dead}/\n" + ROUTING,
], ids=["expansion-limit", "size-limit", "bad-password", "missing-base", "server-down"])
def test_errors_fail_both(postfix_ldap, run_cli, config_dir, ldap_cf, text):
    """A lookup error makes both postmaps exit 1 with a fatal message and no answer."""
    spec = f"ldap:{ldap_cf(text.replace('{dead}', str(free_port())))}"
    theirs = postfix_ldap("postmap", "-q", "multi@example.com", spec)
    mine = run_cli("-c", config_dir, "postmap", "-q", "multi@example.com", spec)
    assert (theirs.returncode, theirs.stdout) == (1, "")
    assert "postmap: fatal: " in theirs.stderr
    assert (mine.status, mine.out) == (1, "")
    assert "postmap: fatal: " in mine.err
