"""Tenant registry and content store.

Everything a tenant *is* lives here: the registry rows in ``platform.db``, the git repository
of its content, the content model parsed from that repository, and the schema of its
``tenant.db``. This package never imports the builder, the publisher or the API.
"""
