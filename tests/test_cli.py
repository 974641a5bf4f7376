"""The console script lists every subcommand and turns user mistakes into one `error:` line."""
import subprocess
import sys

from tinypolicy_host.cli import COMMANDS


def _run(*args):
    return subprocess.run([sys.executable, "-m", "tinypolicy_host.cli", *args], capture_output=True, text=True)


def test_help_lists_every_subcommand():
    proc = _run("--help")
    assert proc.returncode == 0
    for name in COMMANDS:
        assert name in proc.stdout


def test_unknown_subcommand_is_rejected():
    proc = _run("frobnicate")
    assert proc.returncode == 2
    assert "invalid choice" in proc.stderr


def test_every_subcommand_module_has_the_cli_interface():
    import importlib

    for name, (module, _) in COMMANDS.items():
        mod = importlib.import_module(f"tinypolicy_host.cli.{module}")
        assert callable(getattr(mod, "add_arguments", None)), name
        assert callable(getattr(mod, "run", None)), name
