"""Route handlers: each parses, calls a service, and returns a small schema."""
