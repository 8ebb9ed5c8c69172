"""Tessera's composition root: settings, the CLI and the app factory. It alone knows every package."""
