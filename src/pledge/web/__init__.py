"""The web face of pledge: the public privacy centre and the JSON API, on one ASGI app."""

from __future__ import annotations

from pledge.web.app import create_app

__all__ = ["create_app"]
