"""Background work of rights requests (filled in below)."""
