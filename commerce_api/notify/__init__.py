"""Telling people what happened: the outbox, order and staff emails, and outgoing webhooks."""
