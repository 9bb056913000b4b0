"""Every request type each jurisdiction offers, walked from intake to its answer against the demo customer
systems: verified to the policy's level, approved where staff must approve, carried out by a worker
(issue #4, 'Done means'). pledge's own database is SQLite and PostgreSQL in turn."""

from __future__ import annotations

import sqlite3
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from pledge.bootstrap import Container, bootstrap
from pledge.consent.models import ConsentEvent
from pledge.datamap import SubjectIdentity, access
from pledge.demo.build import build
from pledge.jobs.queue import SqlJobQueue
from pledge.jobs.worker import Worker
from pledge.policy import CompiledPolicy, load_compiled
from pledge.rights import service
from pledge.rights.jobs import LEDGER_TYPES, open_systems
from pledge.rights.mail import SmtpMailer
from pledge.rights.schemas import MANUAL_TYPES, PACKAGE_TYPES, DocumentIn, RequestType, RightsRequestCreate, VerifyIn
from pledge.rights.service import RightsParts
from pledge.settings import Settings
from pledge.subjects.schemas import IdentityCreate, SubjectCreate
from pledge.subjects.service import create_subject
from tests.conftest import PANASONIC_POLICY
from tests.datamap.conftest import DATASETS
from tests.rights.conftest import SECRET, Inbox

RESIDENCE = {"EEA": "NL", "default": None}
DECLARATION = DocumentIn(filename="declaration.pdf", content=b"%PDF signed under penalty of perjury")


def _pairs() -> list[tuple[str, RequestType]]:
    policy = load_compiled(PANASONIC_POLICY)
    return [(code, kind) for code in sorted(policy.jurisdictions) for kind in service.offered_types(policy, code)]


PAIRS = _pairs()


@pytest.fixture(scope="module")
def walk_systems(tmp_path_factory: pytest.TempPathFactory) -> str:
    """One demo build for the module, with a person for every walk (none is erased twice)."""
    folder = tmp_path_factory.mktemp("walk-systems")
    url = f"sqlite:///{folder}/{{dataset}}.db"
    build(url=url, subjects=4 * len(PAIRS), seed=21)  # not everyone has an account: room to spare
    return url


def person(url: str, index: int) -> dict[str, Any]:
    folder = Path(url.removeprefix("sqlite:///")).parent
    with sqlite3.connect(folder / "accounts.db") as conn:
        conn.row_factory = sqlite3.Row
        row = conn.execute("SELECT customer_number, email, phone FROM customers ORDER BY id LIMIT 1 OFFSET ?",
                           (index,)).fetchone()
    return dict(row)


@pytest.fixture
def walk(rights_settings: Settings, walk_systems: str, panasonic: CompiledPolicy,
         inbox: Inbox) -> Iterator[tuple[Container, RightsParts]]:
    settings = rights_settings.model_copy(update={"rights": rights_settings.rights.model_copy(update={
        "datasets_dir": DATASETS, "systems_url": walk_systems})})
    with bootstrap(settings, policy=panasonic) as container:
        parts = RightsParts(settings=settings.rights, secret=SECRET.encode(), mailer=SmtpMailer(settings.mail),
                            queue=SqlJobQueue(container.session_factory, settings.jobs))
        yield container, parts


def _run(container: Container, parts: RightsParts) -> None:
    assert parts.queue is not None
    Worker(container=container, queue=parts.queue, mailer=parts.mailer, worker_id="walker",
           retry_delay=lambda _n: 0.0).run(burst=True)


def _state(container: Container, reference: str) -> Any:
    with container.unit_of_work() as session:
        return service.get_request(session=session, reference=reference)


def _submit(container: Container, parts: RightsParts, **fields: Any) -> Any:
    with container.unit_of_work() as session:
        made = service.submit_request(session=session, policy=container.policy, parts=parts,
                                      request_in=RightsRequestCreate(**fields))
        session.commit()
        return made


def _verify(container: Container, parts: RightsParts, inbox: Inbox, reference: str, email: str,
            who: dict[str, Any]) -> None:
    points = {"customer_number": who["customer_number"]}
    if who["phone"]:
        points["phone"] = who["phone"]
    with container.unit_of_work() as session:
        outcome = service.verify_request(session=session, policy=container.policy, reference=reference, parts=parts,
                                         verify_in=VerifyIn(code=inbox.last_code(email), data_points=points,
                                                            declaration=DECLARATION))
        session.commit()
    assert outcome.verified, outcome.message


@pytest.mark.parametrize("index, jurisdiction, kind", [(i, j, k) for i, (j, k) in enumerate(PAIRS)],
                         ids=[f"{j}-{k.value}" for j, k in PAIRS])
def test_each_offered_request_type_reaches_its_answer(index: int, jurisdiction: str, kind: RequestType,
                                                      walk: tuple[Container, RightsParts], walk_systems: str,
                                                      inbox: Inbox, database_url: str) -> None:
    container, parts = walk
    offset = 2 * index + (0 if database_url.startswith("sqlite") else 1)
    who = person(walk_systems, offset)
    email = who["email"]
    residence = RESIDENCE.get(jurisdiction, jurisdiction)
    identities = [IdentityCreate(kind="email", value=email),  # type: ignore[arg-type]
                  IdentityCreate(kind="customer_number", value=who["customer_number"])]  # type: ignore[arg-type]
    if who["phone"]:
        identities.append(IdentityCreate(kind="phone", value=who["phone"]))  # type: ignore[arg-type]
    with container.unit_of_work() as session:
        create_subject(session=session, policy=container.policy, subject_in=SubjectCreate(
            residence=residence, identities=identities))
        session.commit()

    fields: dict[str, Any] = {"request_type": kind.value, "identity": email, "residence": residence}
    if kind is RequestType.RECTIFICATION:
        fields["details"] = {"corrections": {"surname": "Walker"}}
    if kind is RequestType.APPEAL:
        first = _submit(container, parts, request_type="access", identity=email, residence=residence)
        with container.unit_of_work() as session:
            service.deny_request(session=session, policy=container.policy, reference=first.reference, parts=parts,
                                 reason="refused for the walk", actor="staff:walker")
            session.commit()
        fields["appeal_of"] = first.reference
    made = _submit(container, parts, **fields)
    if made.state == "awaiting_verification":
        _verify(container, parts, inbox, made.reference, email, who)
    _run(container, parts)
    if _state(container, made.reference).state == "awaiting_approval" or kind in MANUAL_TYPES:
        with container.unit_of_work() as session:
            service.approve_request(session=session, policy=container.policy, reference=made.reference,
                                    parts=parts, actor="staff:walker", reason="checked")
            session.commit()
        _run(container, parts)

    done = _state(container, made.reference)
    assert done.state in ("completed", "partially_completed"), (done.state, done.outcome_reason)
    assert done.closed_at is not None and done.due_on == done.original_due_on
    if kind in PACKAGE_TYPES:
        names = {name.split("/", 1)[1] for name in zipfile.ZipFile(done.package_path).namelist()}
        specific = done.request_type != RequestType.KNOW.value
        assert ("data/accounts/customers.json" in names) is specific
        assert {"report.html", "manifest.json"} <= names
    if kind in LEDGER_TYPES:
        with container.unit_of_work() as session:
            events = list(session.scalars(select(ConsentEvent).where(ConsentEvent.subject_id == done.subject_id)))
        assert {e.collection_point for e in events} <= {"rights_request"}
        assert len(events) == len(done.result["ledger"]["events"])
        if kind is not RequestType.WITHDRAW_CONSENT:
            assert events
    if kind is RequestType.DELETION:
        systems = open_systems(container.settings, container.policy)
        try:
            left = access(datamap=systems.datamap, systems=systems.systems,
                          identities=[SubjectIdentity("customer_number", who["customer_number"])])
        finally:
            systems.systems.dispose()
        erased = done.result["erasure"]
        assert erased["deleted"] + erased["updated"] > 0
        assert left.row_count == 0 or erased["held"]
    if kind is RequestType.RECTIFICATION:
        assert done.result["rectification"]["surname"]["rows"] >= 1
