"""Exit codes of delivery commands map to statuses as Postfix's sys_exits.c."""

import pytest

from mailflow.delivery import sysexits

# Postfix 3.7 global/sys_exits.c table: code -> (dsn, text).
POSTFIX_TABLE = [
    (64, "5.3.0", "command line usage error"),
    (65, "5.6.0", "data format error"),
    (66, "5.3.0", "cannot open input"),
    (67, "5.1.1", "user unknown"),
    (68, "5.1.2", "host name unknown"),
    (69, "5.3.0", "service unavailable"),
    (70, "5.3.0", "internal software error"),
    (71, "4.3.0", "system resource problem"),
    (72, "5.3.0", "critical OS file missing"),
    (73, "5.2.0", "can't create user output file"),
    (74, "5.3.0", "input/output error"),
    (75, "4.3.0", "temporary failure"),
    (76, "5.5.0", "remote error in protocol"),
    (77, "5.7.0", "permission denied"),
    (78, "5.3.5", "local configuration error"),
]


@pytest.mark.parametrize("code,dsn,text", POSTFIX_TABLE, ids=[str(c) for c, _, _ in POSTFIX_TABLE])
def test_sysexits_code_maps_to_postfix_status(code, dsn, text):
    """Each sysexits.h code gets Postfix's detail code and text."""
    status = sysexits.command_status(code, "/bin/prog")
    assert (status.code, status.text) == (dsn, text)


@pytest.mark.parametrize("code,soft", [(75, True), (71, True), (67, False), (69, False), (1, False),
                                       (255, False)], ids=["tempfail", "oserr", "nouser",
                                                           "unavailable", "one", "255"])
def test_only_tempfail_and_oserr_are_soft(code, soft):
    """EX_TEMPFAIL and EX_OSERR defer; every other failure bounces."""
    assert sysexits.is_soft(code) is soft


# Postfix 3.7.11 pipe(8) log texts for scripts that print "outN" and exit N,
# obtained with a private Postfix instance: master.cf pipe services
# `argv=/path/exN.sh`, mail sent with sendmail, status read from the log.
POSTFIX_PIPE_RESULTS = [
    (67, "out67\n", "5.1.1", "user unknown. Command output: out67 "),
    (75, "out75\n", "4.3.0", "temporary failure. Command output: out75 "),
    (75, "", "4.3.0", "temporary failure"),
    (3, "out3\n", "5.3.0", 'Command died with status 3: "/tmp/ex3.sh". Command output: out3 '),
]


@pytest.mark.parametrize("code,output,dsn,text", POSTFIX_PIPE_RESULTS,
                         ids=["nouser", "tempfail", "tempfail-silent", "status-3"])
def test_command_results_match_postfix_log_texts(code, output, dsn, text):
    """Exit code plus output give the status and text Postfix's pipe logs."""
    status = sysexits.command_status(code, "/tmp/ex3.sh", output)
    assert (status.code, status.text) == (dsn, text)


def test_zero_exit_is_success():
    """Exit 0 is a 2.0.0 success."""
    assert sysexits.command_status(0, "/bin/x").is_success


def test_signal_defers_and_timeout_bounces():
    """A command killed by a signal is deferred; one past its time limit is bounced (as Postfix)."""
    assert sysexits.signal_status(9, "/bin/x").is_temporary
    assert sysexits.timeout_status("/bin/x").is_permanent
