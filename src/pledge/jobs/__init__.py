"""Background jobs on a durable queue: SQL-backed by default, Redis-backed for several workers."""
