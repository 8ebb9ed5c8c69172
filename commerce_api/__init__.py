"""The commerce API: one Litestar service for every tenant.

Tenancy resolution and feature gating, shared authentication and roles, the catalog, carts,
checkout, orders and payments, and the admin UI's routes. Only the composition root imports it.
"""
