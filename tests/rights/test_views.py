"""`/api/v1/requests`: the public routes a person uses (request, code, package link) answer the same whether or
not they are known; staff routes need a key with requests:read or requests:write; errors are RFC 9457 problems."""

from __future__ import annotations

import base64
import hashlib
import io
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from pledge.bootstrap import Container, bootstrap
from pledge.demo.build import build
from pledge.jobs.worker import Worker
from pledge.policy import CompiledPolicy
from pledge.rights import views
from pledge.rights.jobs import parts_for
from pledge.settings import Settings
from pledge.web import create_app
from pledge.web.api.keys import create_key
from tests.datamap.conftest import DATASETS
from tests.rights.conftest import Inbox

BASE = "/api/v1/requests"


@pytest.fixture
def app_container(rights_settings: Settings, panasonic: CompiledPolicy, tmp_path: Path) -> Iterator[Container]:
    systems = f"sqlite:///{tmp_path / 'systems'}/{{dataset}}.db"
    build(url=systems, subjects=15, seed=5)
    settings = rights_settings.model_copy(update={"rights": rights_settings.rights.model_copy(update={
        "datasets_dir": DATASETS, "systems_url": systems, "public_url": "http://testserver"})})
    with bootstrap(settings, policy=panasonic) as container:
        yield container


@pytest.fixture
def client(app_container: Container, inbox: Inbox) -> Iterator[TestClient]:
    with TestClient(create_app(app_container)) as test_client:
        yield test_client


def staff_key(container: Container, *scopes: str) -> dict[str, str]:
    """An API key with these scopes, made by the key service as `pledge apikey create` makes it."""
    with container.unit_of_work() as session:
        _row, plain = create_key(session=session, name="privacy-team", scopes=list(scopes))
        session.commit()
    return {"Authorization": f"Bearer {plain}"}


def demo_email(container: Container) -> str:
    import sqlite3

    assert container.settings.rights.systems_url
    folder = Path(container.settings.rights.systems_url.removeprefix("sqlite:///")).parent
    with sqlite3.connect(folder / "accounts.db") as conn:
        return str(conn.execute("SELECT email FROM customers ORDER BY id LIMIT 1").fetchone()[0])


def run_jobs(container: Container) -> int:
    parts = parts_for(container)
    assert parts.queue is not None
    return Worker(container=container, queue=parts.queue, mailer=parts.mailer, worker_id="api-test").run(burst=True)


def test_a_person_requests_access_enters_the_code_and_downloads_the_package(
        client: TestClient, app_container: Container, inbox: Inbox) -> None:
    """GDPR Art. 15 through the API: request, code by email, package by a signed, expiring link."""
    email = demo_email(app_container)
    made = client.post(BASE, json={"request_type": "access", "identity": email, "residence": "DE"})
    assert made.status_code == 202, made.text
    receipt = made.json()
    assert receipt["state"] == "awaiting_verification" and receipt["jurisdiction"] == "EEA"
    reference = receipt["reference"]

    wrong = client.post(f"{BASE}/{reference}/verify", json={"code": "0000000"})
    assert wrong.status_code == 200 and wrong.json()["verified"] is False
    right = client.post(f"{BASE}/{reference}/verify", json={"code": inbox.last_code(email)})
    assert right.json() == {"reference": reference, "verified": True, "state": "in_progress", "attempts_left": 4,
                            "message": "verified"}
    assert run_jobs(app_container) == 1

    link = inbox.last_link(email)
    assert link.startswith(f"http://testserver{BASE}/package/")
    download = client.get(link.removeprefix("http://testserver"))
    assert download.status_code == 200 and download.headers["content-type"] == "application/zip"
    names = zipfile.ZipFile(io.BytesIO(download.content)).namelist()
    assert f"{reference}/manifest.json" in names and f"{reference}/report.html" in names

    forged = link.removeprefix("http://testserver")[:-3] + "abc"
    refused = client.get(forged)
    assert refused.status_code == 404
    assert refused.headers["content-type"] == "application/problem+json"


def test_the_public_answer_is_the_same_for_a_stranger(client: TestClient, app_container: Container,
                                                      inbox: Inbox) -> None:
    known = client.post(BASE, json={"request_type": "deletion", "identity": demo_email(app_container),
                                    "residence": "US-CA"}).json()
    stranger = client.post(BASE, json={"request_type": "deletion", "identity": "nobody@example.com",
                                       "residence": "US-CA"}).json()
    for body in (known, stranger):
        body.pop("reference")
        body.pop("received_at")
    assert known == stranger


@pytest.mark.parametrize("body, field, status", [
    ({"request_type": "rectification", "identity": "a@example.com", "residence": "US-UT",
      "details": {"corrections": {"email": "b@example.com"}}}, "request_type", 422),
    ({"request_type": "access", "identity": "not-an-email@", "residence": "DE"}, "identity", 422),
    ({"request_type": "deletion", "identity": "a@example.com", "residence": "US-CA",
      "agent": {"name": "Agent", "email": "agent@agents.example"}}, "agent.permission", 422),
    ({"request_type": "teleport", "identity": "a@example.com"}, "body.request_type", 422),
])
def test_bad_input_is_a_problem_naming_the_field_and_nothing_is_recorded(
        body: dict[str, Any], field: str, status: int, client: TestClient, app_container: Container,
        inbox: Inbox) -> None:
    answer = client.post(BASE, json=body)
    assert answer.status_code == status
    problem = answer.json()
    assert answer.headers["content-type"] == "application/problem+json"
    assert field in [error["field"] for error in problem["errors"]]
    headers = staff_key(app_container, views.REQUESTS_READ)
    assert client.get(BASE, headers=headers).json() == []
    assert inbox.messages == []


def test_an_agent_uploads_the_signed_permission_as_base64(client: TestClient, app_container: Container,
                                                          inbox: Inbox) -> None:
    """11 CCR § 7063(a): the agent's request carries the person's signed permission."""
    permission = base64.b64encode(b"%PDF signed").decode()
    made = client.post(BASE, json={"request_type": "deletion", "identity": "p@example.com", "residence": "US-CA",
                                   "agent": {"name": "Agent", "email": "agent@agents.example",
                                             "permission": {"filename": "p.pdf", "content": permission}}})
    assert made.status_code == 202
    shown = client.get(f"{BASE}/{made.json()['reference']}",
                       headers=staff_key(app_container, views.REQUESTS_READ)).json()
    assert shown["documents"][0]["sha256"] == hashlib.sha256(b"%PDF signed").hexdigest()


def test_staff_routes_need_a_key_with_the_right_scope(client: TestClient, app_container: Container,
                                                      inbox: Inbox) -> None:
    assert client.get(BASE).status_code == 401
    assert client.get(BASE, headers={"Authorization": "Bearer pk_nope_nope"}).status_code == 401
    reader = staff_key(app_container, views.REQUESTS_READ)
    made = client.post(BASE, json={"request_type": "deletion", "identity": "s@example.com", "residence": "DE"})
    reference = made.json()["reference"]
    assert client.post(f"{BASE}/{reference}/deny", json={"reason": "no"}, headers=reader).status_code == 403
    phone = client.post(f"{BASE}?channel=phone", json={"request_type": "access", "identity": "t@example.com",
                                                       "residence": "DE"})
    assert phone.status_code == 401  # entering a phone request is staff work


def test_staff_list_extend_deny_and_enter_a_phone_request(client: TestClient, app_container: Container,
                                                          inbox: Inbox) -> None:
    """GDPR Art. 12(3)-(4) through the API: an extension with reasons, a refusal with reasons."""
    writer = staff_key(app_container, views.REQUESTS_READ, views.REQUESTS_WRITE)
    made = client.post(f"{BASE}?channel=phone", headers=writer,
                       json={"request_type": "rectification", "identity": "caller@example.com", "residence": "DE",
                             "details": {"corrections": {"surname": "Smith"}}})
    assert made.status_code == 202
    reference = made.json()["reference"]
    listed = client.get(BASE, headers=writer, params={"due_soon": 40}).json()
    assert [(r["reference"], r["channel"]) for r in listed] == [(reference, "phone")]

    extended = client.post(f"{BASE}/{reference}/extend", headers=writer, json={"reason": "archives to search"})
    assert extended.status_code == 200 and extended.json()["extensions_used"] == 1
    again = client.post(f"{BASE}/{reference}/extend", headers=writer, json={"reason": "more"})
    assert again.status_code == 409 and "no extension left" in again.json()["detail"]
    denied = client.post(f"{BASE}/{reference}/deny", headers=writer, json={"reason": "the surname is right"})
    assert denied.json()["state"] == "denied" and denied.json()["events"][-1]["actor"] == "api:privacy-team"
    assert client.post(f"{BASE}/{reference}/run", headers=writer).status_code == 409
    assert client.get(f"{BASE}/R-NOSUCH", headers=writer).status_code == 404


def test_staff_approve_an_erasure_plan_and_get_a_fresh_package_link(client: TestClient, app_container: Container,
                                                                    inbox: Inbox) -> None:
    writer = staff_key(app_container, views.REQUESTS_READ, views.REQUESTS_WRITE)
    email = demo_email(app_container)
    reference = client.post(BASE, json={"request_type": "deletion", "identity": email,
                                        "residence": "DE"}).json()["reference"]
    client.post(f"{BASE}/{reference}/verify", json={"code": inbox.last_code(email)})
    run_jobs(app_container)
    shown = client.get(f"{BASE}/{reference}", headers=writer).json()
    assert shown["state"] == "awaiting_approval" and "Erasure plan" in shown["result"]["plan_text"]
    approved = client.post(f"{BASE}/{reference}/approve", headers=writer, json={"reason": "checked"})
    assert approved.json()["state"] == "in_progress"
    run_jobs(app_container)
    assert client.get(f"{BASE}/{reference}", headers=writer).json()["state"] == "completed"
    assert client.get(f"{BASE}/{reference}/package", headers=writer).status_code == 404  # erasure: no package


def test_a_single_server_runs_its_own_jobs_in_the_background(app_container: Container, inbox: Inbox) -> None:
    """`pledge serve` alone (the embedded set-up, `make demo`) answers a verified request with no
    `pledge worker` running: the app's own worker thread takes the job (GDPR Art. 12(3): without undue delay)."""
    import time

    email = demo_email(app_container)
    with TestClient(create_app(app_container, background_jobs=True)) as client:
        made = client.post(BASE, json={"request_type": "access", "identity": email, "residence": "DE"})
        reference = made.json()["reference"]
        verified = client.post(f"{BASE}/{reference}/verify", json={"code": inbox.last_code(email)})
        assert verified.json()["state"] == "in_progress"
        staff = staff_key(app_container, "requests:read")
        state = "in_progress"
        for _attempt in range(300):  # bounded wait for the thread; the assertion is on the end state
            state = client.get(f"{BASE}/{reference}", headers=staff).json()["state"]
            if state != "in_progress":
                break
            time.sleep(0.1)
    assert state == "completed"
    assert inbox.last_link(email).startswith("http://testserver")
