"""Shared authentication: platform-wide users, a role per tenant, and credentials bound to one tenant."""
