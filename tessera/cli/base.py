"""What every command shares: the click group, the lazily built context, and errors turned into one
clear message and a non-zero exit, never a traceback."""

from __future__ import annotations

import functools
import importlib
from typing import TYPE_CHECKING

import click
from rich.console import Console
from rich.markup import escape

from commerce_api.errors import ApiError
from content.errors import ContentErrors, TesseraError

from ..settings import Settings, SettingsError

if TYPE_CHECKING:
    from content.tenants import Tenants

console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False)


def handle_errors(func):
    """Turn every error a user can act on into a ClickException at the CLI edge."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except ContentErrors as exc:
            for error in exc.errors:
                err_console.print(f"[red]error[/red] {escape(str(error))}", markup=True, soft_wrap=True)
            raise click.ClickException(f"{len(exc.errors)} problem(s) found") from None
        except (TesseraError, SettingsError) as exc:
            raise click.ClickException(str(exc)) from None
        except ApiError as exc:
            raise click.ClickException(exc.message) from None

    return wrapper


class Context:
    """Lazily built settings and services, shared by the commands of one invocation."""

    def __init__(self) -> None:
        self._settings: Settings | None = None
        self._tenants: Tenants | None = None

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            try:
                self._settings = Settings.from_env()
            except SettingsError as exc:
                raise click.ClickException(str(exc)) from None
        return self._settings

    @property
    def services(self):
        if getattr(self, "_services", None) is None:
            from ..app import services

            self._services = services(self.settings)
        return self._services

    @property
    def tenants(self) -> Tenants:
        if self._tenants is None:
            from content.tenants import Tenants

            self._tenants = Tenants(self.settings.data_dir, self.settings.sites_dir)
        return self._tenants


pass_ctx = click.make_pass_decorator(Context, ensure=True)

# Which module defines each command. A command's module is imported only when that command runs
# (or when --help lists them all): `tessera build` should not pay for the shop's, the server's and
# the reports' imports before it starts, since a no-change build is over in a fraction of a second.
COMMANDS = {
    "check": "site", "build": "site", "dev": "site", "publish": "site", "jobs": "site", "deploys": "site",
    "rollback": "site", "domain": "site", "caddyfile": "site",
    "discounts": "discounts", "discount": "discounts", "user": "people", "token": "people",
    "report": "reports", "serve": "serving", "demo": "serving", "worker": "serving", "prune": "serving",
    "stock": "shop", "orders": "shop", "tenant": "tenants", "export": "tenants", "import": "tenants",
    "webhooks": "webhooks", "billing": "billing",
}


class LazyGroup(click.Group):
    """The command group, importing a command's module on first use (see COMMANDS)."""

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in COMMANDS:
            importlib.import_module(f"{__package__}.{COMMANDS[cmd_name]}")
        return super().get_command(ctx, cmd_name)

    def list_commands(self, ctx: click.Context) -> list[str]:
        for module in sorted(set(COMMANDS.values())):
            importlib.import_module(f"{__package__}.{module}")
        return super().list_commands(ctx)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="tessera")
def main() -> None:
    """Tessera: host many small client websites, each with a git-versioned CMS and an optional shop.

    Settings come from the environment (TESSERA_DATA_DIR, TESSERA_BASE_DOMAIN, TESSERA_PORT,
    TESSERA_SECRET_KEY, TESSERA_STORAGE, ...); see the README.
    """
