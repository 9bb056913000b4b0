"""docs/api.md documents every /api/v1 route (STYLE.md: a test fails when docs drift from code)."""

from __future__ import annotations

from fastapi.routing import APIRoute

from pledge.web.api.v1 import v1
from tests.conftest import REPO


def test_every_v1_route_is_in_the_api_reference() -> None:
    text = (REPO / "docs" / "api.md").read_text()
    routes = [route for route in v1.routes if isinstance(route, APIRoute)]
    assert routes
    for route in routes:
        for method in route.methods:
            assert f"`{method} {route.path}`" in text, f"docs/api.md lacks `{method} {route.path}`"


def test_every_scope_is_in_the_api_reference() -> None:
    from pledge.web.api.keys import Scope

    text = (REPO / "docs" / "api.md").read_text()
    for scope in Scope:
        assert f"`{scope.value}`" in text
