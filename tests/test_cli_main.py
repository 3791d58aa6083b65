"""The mailflow command dispatcher."""

from mailflow.cli.main import COMMANDS


def test_help_lists_every_command(run_cli):
    """`mailflow --help` names every registered command."""
    result = run_cli("--help")
    assert result.status == 0
    for name in COMMANDS:
        assert f"  {name} " in result.out


def test_unknown_command_is_a_usage_error(run_cli):
    """An unknown command exits EX_USAGE (64) with the usage text on stderr."""
    result = run_cli("frobnicate")
    assert result.status == 64
    assert "unknown command 'frobnicate'" in result.err


import pytest  # noqa: E402


@pytest.mark.parametrize("name", list(COMMANDS))
def test_every_command_explains_itself(run_cli, config_dir, name):
    """`mailflow COMMAND --help` exits 0 and describes the command."""
    result = run_cli("-c", config_dir, name, "--help")
    assert result.status == 0, result.err
    text = result.out + result.err
    assert name.split("-")[0] in text and len(text.strip()) > 20
