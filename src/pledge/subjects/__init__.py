"""Data subjects: the people pledge keeps promises to, found by any of their identities."""
