"""Configuration files that exist but cannot be read."""

import pytest

from mailflow.config import Config
from mailflow.errors import ConfigError


def test_unreadable_main_cf_is_a_config_error(tmp_path):
    """A main.cf that cannot be read (here: a directory) is a ConfigError naming it, not a traceback."""
    (tmp_path / "main.cf").mkdir()
    with pytest.raises(ConfigError, match=r"open .*main\.cf: Is a directory"):
        Config.from_directory(tmp_path)


def test_main_cf_with_latin1_comment_still_reads(tmp_path):
    """Bytes that are not UTF-8 (a Latin-1 comment) do not stop the configuration, as in Postfix."""
    (tmp_path / "main.cf").write_bytes(b"# caf\xe9\nmyhostname = mx.example.com\n")
    assert Config.from_directory(tmp_path).myhostname == "mx.example.com"
