"""The static-site builder: a tenant's content at a commit plus a theme, into a folder of files.

It never touches the network and never writes to a database; its only state is its own cache.
"""
