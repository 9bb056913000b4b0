"""``/healthz``: is the process up, and can it reach its database."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from pledge.bootstrap import Container
from pledge.web.deps import get_container
from pledge.web.problems import PROBLEM_JSON, problem_body

router = APIRouter(tags=["health"])


@router.get("/healthz", name="healthz")
def healthz(container: Annotated[Container, Depends(get_container)]) -> Any:
    """200 with the policy revision when the database answers; 503 problem details when it does not."""
    try:
        with container.session_factory() as session:
            session.execute(text("SELECT 1"))
    except SQLAlchemyError:
        body = problem_body(status=503, title="Service Unavailable", detail="The database does not answer.",
                            instance="/healthz")
        return JSONResponse(body, status_code=503, media_type=PROBLEM_JSON)
    return {"status": "ok", "policy_revision": container.policy.revision, "notices": len(container.policy.notices)}
