"""The public privacy centre: the notices people read, and their archive."""
