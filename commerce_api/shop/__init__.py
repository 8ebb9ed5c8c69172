"""The shop: pricing, carts, checkout with stock reservations, orders and payments.

Everything runs against one tenant's ``tenant.db``; prices always come from the published catalog,
never from the client.
"""
