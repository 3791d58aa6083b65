"""sendmail's fast path: the maildrop file drop() writes, QuickConfig, and what start-up imports."""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
from pathlib import Path

import attrs
import pytest

from mailflow.adapters.queue_store import FileQueueStore
from mailflow.cli.sendmail import QUICK_DEFAULTS
from mailflow.config import Config
from mailflow.config.quick import QuickConfig
from mailflow.errors import ConfigError
from mailflow.interfaces import QueueName as Q
from mailflow.queue import records
from mailflow.queue.names import QueueId, make_queue_id

submit_module = importlib.import_module("mailflow.submit")
ROOT = Path(__file__).resolve().parents[2]

DROPS = [
    pytest.param(b"Subject: hi\n\nhello\n", "a@example.com", ["b@example.net"], {}, id="plain"),
    pytest.param(b"Subject: hi\r\n\r\nno final newline", "", ["b@example.net", "c@example.org"], {},
                 id="null-sender-crlf-two-rcpts"),
    pytest.param(b"x\n", "a b%c@example.com", ["\"q u\"@example.net"],
                 {"envid": "id 1%", "ret": "hdrs", "notify": ["success", "delay"]}, id="dsn-and-escapes"),
    pytest.param(b"\xff\xfe\n", "j\u00f6rg@example.com", ["b@example.net"], {"notify": ["NEVER"]},
                 id="8bit-and-never"),
]


@pytest.mark.parametrize("data, sender, recipients, kw", DROPS)
def test_drop_writes_the_file_the_store_writes(tmp_path, data, sender, recipients, kw):
    """drop()'s file is byte for byte what records.encode() makes of the same envelope."""
    store = FileQueueStore(tmp_path)
    qid = submit_module.drop(data, sender, recipients, str(tmp_path), **kw)
    path = tmp_path / "maildrop" / qid
    written = path.read_bytes()
    qf = store.read(qid, Q.MAILDROP)
    expected_env = submit_module.build_envelope(sender, recipients, **kw)
    expected_env = attrs.evolve(expected_env, arrival_time=qf.envelope.arrival_time)
    assert written == records.encode(expected_env, submit_module.as_message(data))
    parsed = QueueId.parse(qid)
    assert qid == make_queue_id(parsed.seconds, parsed.microseconds, path.stat().st_ino)


def test_drop_leaves_no_temporary_file(tmp_path):
    """After drop() returns, maildrop/ holds the queue file and nothing else."""
    FileQueueStore(tmp_path)
    qid = submit_module.drop(b"x\n", "a@example.com", ["b@example.net"], str(tmp_path))
    assert os.listdir(tmp_path / "maildrop") == [qid]


def test_drop_without_maildrop_raises_file_not_found(tmp_path):
    """drop() creates no directories: a missing maildrop/ is FileNotFoundError."""
    with pytest.raises(FileNotFoundError):
        submit_module.drop(b"x\n", "a@example.com", ["b@example.net"], str(tmp_path / "none"))


def test_quick_defaults_are_the_parameter_table_defaults():
    """sendmail's built-in defaults for QuickConfig agree with postconf -d's."""
    assert QUICK_DEFAULTS == {name: Config().raw(name) for name in QUICK_DEFAULTS}


def test_maildrop_is_not_hashed_by_default():
    """drop() writes an unhashed maildrop, which is right only while the default says so."""
    assert "maildrop" not in Config().hash_queue_names


MAIN_CF = [
    pytest.param("queue_directory = {tmp}/spool\n", id="plain"),
    pytest.param("base = {tmp}\nqueue_directory = $base/spool\n", id="reference-to-a-set-name"),
    pytest.param("queue_directory = {tmp}/old\nqueue_directory = {tmp}/spool\n", id="last-wins"),
    pytest.param("queue_directory = ${{config_directory}}/../spool\n", id="needs-full-config"),
    pytest.param("queue_directory = {tmp}/spool\nhash_queue_names = maildrop\nhash_queue_depth = 2\n",
                 id="hashed-maildrop"),
]


@pytest.mark.parametrize("main_cf", MAIN_CF)
def test_sendmail_writes_where_the_full_config_says(run_cli, tmp_path, main_cf):
    """Whichever path sendmail takes, the message lands in the spool Config names."""
    etc = tmp_path / "etc"
    etc.mkdir()
    (etc / "main.cf").write_text(main_cf.format(tmp=tmp_path))
    r = run_cli("-c", etc, "sendmail", "-f", "a@example.com", "b@example.net", stdin="x\n")
    assert (r.status, r.err) == (0, "")
    store = FileQueueStore.from_config(Config.from_directory(etc), create=False)
    [qid] = store.ids(Q.MAILDROP)
    assert store.read(qid, Q.MAILDROP).envelope.recipients[0].address == "b@example.net"


def test_line_without_equals_is_a_config_error_with_file_and_line(run_cli, tmp_path):
    """A broken main.cf line stops sendmail with exit 78 and the file and line."""
    etc = tmp_path / "etc"
    etc.mkdir()
    (etc / "main.cf").write_text(f"queue_directory = {tmp_path}\nmyhostname\n")
    r = run_cli("-c", etc, "sendmail", "b@example.net", stdin="x\n")
    assert r.status == 78
    assert f"{etc / 'main.cf'}, line 2: missing '=' after attribute name: \"myhostname\"" in r.err


@pytest.mark.parametrize("text, name, expected", [
    pytest.param("a = $b\nb = $a\n", "a", None, id="loop"),
    pytest.param("a = ${b\n", "a", None, id="bad-expression"),
    pytest.param("a = x\n", "unknown", None, id="no-default"),
    pytest.param("a = 1\na = 2\n", "a", "2", id="last-definition-wins"),
    pytest.param("a = ${b:fallback}\n", "a", "fallback", id="default-given"),
])
def test_quick_config_expands_or_defers_to_the_full_config(tmp_path, text, name, expected):
    """QuickConfig answers what it can and returns None for the rest."""
    (tmp_path / "main.cf").write_text(text)
    assert QuickConfig(tmp_path, defaults={"b": ""}).expand(name) == expected


def test_quick_config_missing_equals_raises_like_config(tmp_path):
    """QuickConfig raises the full Config's error for a line without '='."""
    (tmp_path / "main.cf").write_text("myhostname\n")
    with pytest.raises(ConfigError) as quick:
        QuickConfig(tmp_path)
    with pytest.raises(ConfigError) as full:
        Config.from_directory(tmp_path)
    assert str(quick.value) == str(full.value)


STARTUP_PROBE = """
import sys
from mailflow.cli.main import main
status = main(sys.argv[1:])
heavy = sorted(m for m in ("attr", "attrs", "asyncio", "mailflow.model", "mailflow.config.params",
                           "mailflow.cleanup", "logging") if m in sys.modules)
print(status, heavy, file=sys.stderr)
"""


@pytest.mark.parametrize("main_extra, expected", [
    pytest.param("", "0 []", id="no-checks"),
    pytest.param("body_checks = regexp:{tmp}/nothing\n", None, id="with-checks"),
])
def test_sendmail_start_up_imports(tmp_path, main_extra, expected):
    """Without content checks, a submission imports neither attrs, asyncio, the model nor cleanup."""
    etc = tmp_path / "etc"
    etc.mkdir()
    (tmp_path / "nothing").write_text("")
    (etc / "main.cf").write_text(f"queue_directory = {tmp_path}/spool\n" + main_extra.format(tmp=tmp_path))
    FileQueueStore(tmp_path / "spool")
    p = subprocess.run([sys.executable, "-c", STARTUP_PROBE, "-c", str(etc), "sendmail",
                        "-f", "a@example.com", "b@example.net"], input=b"x\n", capture_output=True,
                       cwd=str(ROOT), env=dict(os.environ, PYTHONPATH=str(ROOT)), timeout=60)
    line = p.stderr.decode().strip().splitlines()[-1]
    if expected is None:
        assert line.startswith("0 ") and "mailflow.cleanup" in line
    else:
        assert line == expected


@pytest.mark.parametrize("name", ["mailflow.config.quick", "mailflow.config.lines",
                                  "mailflow.cli.sendmail", "mailflow.cli.main"])
def test_docstring_examples(name):
    """The examples in the fast path's module docstrings run as written."""
    import doctest
    result = doctest.testmod(importlib.import_module(name))
    assert result.failed == 0 and result.attempted > 0
