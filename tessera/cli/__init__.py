"""The ``tessera`` command line; each module adds its commands to the one group, when first used."""

from .base import main

__all__ = ["main"]
