"""The ``tessera`` command line; each module adds its commands to the one group."""

from . import billing, discounts, people, reports, serving, shop, site, tenants, webhooks  # noqa: F401  (registering the commands)
from .base import main

__all__ = ["main"]
