"""The CLI imports a command's module only when that command runs, and every command is reachable."""

from __future__ import annotations

import subprocess
import sys

from click.testing import CliRunner

from tessera.cli import main
from tessera.cli.base import COMMANDS


def test_every_command_is_mapped_to_its_module_and_listed_in_help():
    result = CliRunner().invoke(main, ["--help"])
    assert result.exit_code == 0
    assert set(main.commands) == set(COMMANDS)  # a new command must be added to COMMANDS
    for name in COMMANDS:
        assert f"  {name} " in result.output


def test_a_source_build_does_not_import_the_server_the_shop_or_the_publisher():
    # A fresh process, so that no other test has imported them already.
    code = ("import sys\nfrom click.testing import CliRunner\nfrom tessera.cli import main\n"
            "CliRunner().invoke(main, ['build', '--help'])\n"
            "print(' '.join(m for m in ('litestar', 'boto3', 'publish.deploy', 'commerce_api.shop', 'content.tenants',"
            " 'jinja2', 'markdown_it', 'PIL') if m in sys.modules))")
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert loaded == []
