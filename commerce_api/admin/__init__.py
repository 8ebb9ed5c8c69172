"""The admin UI: server-rendered pages at /admin on each tenant's host, on the same sessions,
CSRF tokens and permissions as the API. Forms work without JavaScript."""
