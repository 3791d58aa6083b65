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
