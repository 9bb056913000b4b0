"""Requests carried out on the demo customer systems by a worker: packages with every row of the person and
none of another, erasure after an approved dry run with legal holds intact, rectification, a failing database,
and restriction, objection and opt-outs written to the consent ledger. SQLite and PostgreSQL alike."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import uuid
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from pledge.bootstrap import Container, bootstrap
from pledge.consent.models import ConsentEvent
from pledge.datamap import Systems, access
from pledge.demo.build import build
from pledge.jobs.queue import SqlJobQueue
from pledge.jobs.worker import Worker
from pledge.policy import CompiledPolicy
from pledge.rights import packages, service
from pledge.rights.jobs import DataSystems, execute_request, open_systems
from pledge.rights.schemas import RightsRequestCreate, VerifyIn
from pledge.rights.service import RightsParts
from pledge.settings import Settings
from pledge.store import utcnow
from tests.conftest import PostgresServer
from tests.datamap.conftest import DATASETS, Oracle
from tests.rights.conftest import SECRET, Inbox

SUBJECTS = 60


@pytest.fixture
def systems_url(database_url: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[str]:
    """The demo systems beside pledge's own database: SQLite files, or a PostgreSQL database with a schema each."""
    if database_url.startswith("sqlite"):
        url = f"sqlite:///{tmp_path / 'systems'}/{{dataset}}.db"
        build(url=url, subjects=SUBJECTS, seed=11)
        yield url
        return
    server: PostgresServer = request.getfixturevalue("postgres_server")
    name = f"systems_{uuid.uuid4().hex[:10]}"
    url = server.create_database(name)
    build(url=url, subjects=SUBJECTS, seed=11)
    yield url
    server.drop_database(name)


@pytest.fixture
def world(rights_settings: Settings, systems_url: str, panasonic: CompiledPolicy,
          inbox: Inbox) -> Iterator[tuple[Container, RightsParts, DataSystems]]:
    settings = rights_settings.model_copy(update={"rights": rights_settings.rights.model_copy(update={
        "datasets_dir": DATASETS, "systems_url": systems_url})})
    with bootstrap(settings, policy=panasonic) as container:
        from pledge.rights.mail import SmtpMailer

        queue = SqlJobQueue(container.session_factory, settings.jobs)
        parts = RightsParts(settings=settings.rights, secret=SECRET.encode(), mailer=SmtpMailer(settings.mail),
                            queue=queue)
        systems = open_systems(settings, panasonic)
        try:
            yield container, parts, systems
        finally:
            systems.systems.dispose()


def snapshot(systems: DataSystems) -> dict[Any, Any]:
    from tests.datamap.conftest import Demo

    return Demo(systems.datamap, systems.systems, "").snapshot()


def run_jobs(container: Container, parts: RightsParts, inbox: Inbox) -> int:
    assert parts.queue is not None
    return Worker(container=container, queue=parts.queue, mailer=parts.mailer, worker_id="test-worker",
                  retry_delay=lambda _n: 0.0).run(burst=True)


def submit_and_verify(container: Container, parts: RightsParts, inbox: Inbox, **fields: Any) -> str:
    with container.unit_of_work() as session:
        request = service.submit_request(session=session, policy=container.policy, parts=parts,
                                         request_in=RightsRequestCreate(**fields))
        session.commit()
    if request.state == "awaiting_verification":
        email = fields.get("contact_email") or fields["identity"]
        with container.unit_of_work() as session:
            outcome = service.verify_request(session=session, policy=container.policy, reference=request.reference,
                                             verify_in=VerifyIn(code=inbox.last_code(email)), parts=parts)
            session.commit()
        assert outcome.verified, outcome.message
    return request.reference


def state_of(container: Container, reference: str) -> Any:
    with container.unit_of_work() as session:
        return service.get_request(session=session, reference=reference)


def customer(oracle: Oracle, index: int = 0) -> tuple[str, str]:
    numbers = sorted(r["customer_number"] for r in oracle.customers.values())
    number = numbers[index]
    return number, oracle.email_of(number)


# --- access, know, portability ---------------------------------------------------------------------------


def test_an_access_request_is_answered_with_a_package_of_every_row_of_the_person_and_no_other(
        world: tuple[Container, RightsParts, DataSystems], inbox: Inbox) -> None:
    """GDPR Art. 15(3): a copy of the personal data; the package reached only by a signed link that expires."""
    container, parts, systems = world
    oracle = Oracle(snapshot(systems))
    number, email = customer(oracle, 3)
    reference = submit_and_verify(container, parts, inbox, request_type="access", identity=email, residence="DE")
    assert state_of(container, reference).state == "in_progress"
    assert run_jobs(container, parts, inbox) == 1

    request = state_of(container, reference)
    assert request.state == "completed"
    token = inbox.last_link(email).rsplit("/", 1)[1]
    assert packages.read_link(SECRET.encode(), token, utcnow()) == reference
    with pytest.raises(packages.LinkError, match="expired"):
        packages.read_link(SECRET.encode(), token, utcnow() + dt.timedelta(hours=169))
    with pytest.raises(packages.LinkError, match="not valid"):
        packages.read_link(b"another key", token, utcnow())

    data = Path(request.package_path).read_bytes()
    assert hashlib.sha256(data).hexdigest() == request.package_sha256
    archive = zipfile.ZipFile(io.BytesIO(data))
    names = {name.split("/", 1)[1]: name for name in archive.namelist()}
    manifest = json.loads(archive.read(names["manifest.json"]))
    for entry in manifest["files"]:
        assert hashlib.sha256(archive.read(names[entry["path"]])).hexdigest() == entry["sha256"]
    assert {e["path"] for e in manifest["files"]} == set(names) - {"manifest.json"}

    found: set[Any] = set()
    for table in systems.datamap.nodes.values():
        path = f"data/{table.dataset.id}/{table.table.name}.json"
        if path not in names:
            continue
        document = json.loads(archive.read(names[path]))
        csv_lines = archive.read(names[path.replace(".json", ".csv")]).decode().strip().splitlines()
        assert len(csv_lines) == len(document["rows"]) + 1
        for row in document["rows"]:
            key = tuple(row["values"][k] for k in table.primary_key)
            found.add(((table.dataset.id, table.table.name), key))
    expected = {(t, tuple(str(k) if not isinstance(k, int) else k for k in key)) for t, key in oracle.rows_of(number)}
    normalised = {(t, tuple(str(k) if not isinstance(k, int) else k for k in key)) for t, key in found}
    assert normalised == expected  # every row of the person, and no row of anyone else

    report = archive.read(names["report.html"]).decode()
    assert "Your personal data held by Panasonic" in report and "General Data Protection Regulation" in report
    assert "Why we use it" in report and "How long we keep it" in report
    with container.unit_of_work() as session:
        read = service.to_read(session=session, request=service.get_request(session=session, reference=reference))
    assert [(job.kind, job.state, job.progress) for job in read.jobs] == [("rights.execute", "done", 1.0)]


def test_a_request_to_know_gets_categories_sources_purposes_and_recipients_but_no_pieces(
        world: tuple[Container, RightsParts, DataSystems], inbox: Inbox) -> None:
    """Cal. Civ. Code § 1798.110: categories, sources, purposes and recipients; 11 CCR § 7062(b) two points."""
    container, parts, systems = world
    oracle = Oracle(snapshot(systems))
    number, email = customer(oracle, 5)
    with container.unit_of_work() as session:
        from pledge.subjects.schemas import IdentityCreate, SubjectCreate
        from pledge.subjects.service import create_subject

        create_subject(session=session, policy=container.policy, subject_in=SubjectCreate(
            residence="US-CA", identities=[IdentityCreate(kind="email", value=email),  # type: ignore[arg-type]
                                           IdentityCreate(kind="customer_number", value=number)]))  # type: ignore[arg-type]
        request = service.submit_request(session=session, policy=container.policy, parts=parts,
                                         request_in=RightsRequestCreate(request_type="know", identity=email,
                                                                        residence="US-CA"))  # type: ignore[arg-type]
        session.commit()
    with container.unit_of_work() as session:
        outcome = service.verify_request(session=session, policy=container.policy, reference=request.reference,
                                         parts=parts, verify_in=VerifyIn(code=inbox.last_code(email),
                                                                         data_points={"customer_number": number}))
        session.commit()
    assert outcome.verified
    run_jobs(container, parts, inbox)
    done = state_of(container, request.reference)
    assert done.state == "completed"
    archive = zipfile.ZipFile(done.package_path)
    assert sorted(n.split("/", 1)[1] for n in archive.namelist()) == ["manifest.json", "report.html"]
    report = archive.read(f"{request.reference}/report.html").decode()
    assert "Where it comes from" in report and "Who receives it" in report
    assert "California" in report


# --- erasure, rectification -----------------------------------------------------------------------------


def test_erasure_waits_for_staff_to_approve_the_dry_run_then_erases_keeping_legal_holds(
        world: tuple[Container, RightsParts, DataSystems], inbox: Inbox, panasonic: CompiledPolicy) -> None:
    """GDPR Art. 17 with Art. 17(3)(b): erased everywhere, except what a law requires to keep."""
    container, parts, systems = world
    before = snapshot(systems)
    oracle = Oracle(before)
    number, email = customer(oracle, 7)
    reference = submit_and_verify(container, parts, inbox, request_type="deletion", identity=email, residence="IE")
    run_jobs(container, parts, inbox)
    waiting = state_of(container, reference)
    assert waiting.state == "awaiting_approval"
    assert "Erasure plan for email:" in waiting.result["plan_text"]
    assert snapshot(systems) == before  # a dry run changes nothing

    with container.unit_of_work() as session:
        service.approve_request(session=session, policy=panasonic, reference=reference, parts=parts,
                                actor="staff:dpo", reason="plan checked")
        session.commit()
    run_jobs(container, parts, inbox)
    done = state_of(container, reference)
    assert done.state == "completed", done.outcome_reason
    assert [e.actor for e in done.events if e.kind == "approved"] == ["staff:dpo"]
    after = snapshot(systems)
    others = {(t, k) for t, rows in before.items() for k in rows} - oracle.rows_of(number)
    assert all(after[t].get(k) == before[t][k] for t, k in others)  # nobody else's row changed
    remaining = access(datamap=systems.datamap, systems=systems.systems,
                       identities=service_identities(email)).row_count
    erased = done.result["erasure"]
    assert erased["deleted"] + erased["updated"] > 0
    # what the person's identities still reach are the rows the law keeps, personal fields anonymised
    assert remaining == 0 or (erased["held"] and remaining < len(oracle.rows_of(number)))
    assert "is done" in inbox.to(email)[-1]["Subject"]


def service_identities(email: str) -> list[Any]:
    from pledge.datamap import SubjectIdentity

    return [SubjectIdentity("email", email)]


def test_rectification_corrects_the_attribute_everywhere_after_approval(
        world: tuple[Container, RightsParts, DataSystems], inbox: Inbox, panasonic: CompiledPolicy) -> None:
    """GDPR Art. 16: the surname corrected in every system the data map says holds it."""
    container, parts, systems = world
    oracle = Oracle(snapshot(systems))
    number, email = customer(oracle, 9)
    reference = submit_and_verify(container, parts, inbox, request_type="rectification", identity=email,
                                  residence="GB", details={"corrections": {"surname": "Fairweather"}})
    run_jobs(container, parts, inbox)
    assert state_of(container, reference).state == "awaiting_approval"
    with container.unit_of_work() as session:
        service.approve_request(session=session, policy=panasonic, reference=reference, parts=parts,
                                actor="staff:dpo")
        session.commit()
    run_jobs(container, parts, inbox)
    done = state_of(container, reference)
    assert done.state in ("completed", "partially_completed")
    assert done.result["rectification"]["surname"]["rows"] >= 1
    after = snapshot(systems)
    [account] = [row for row in after[("accounts", "customers")].values() if row["customer_number"] == number]
    assert account["last_name"] == "Fairweather"


def test_a_correction_no_system_can_hold_is_refused_with_its_reason(
        world: tuple[Container, RightsParts, DataSystems], inbox: Inbox) -> None:
    """PDPA s. 35 / S2 Thai appendix s. 4(7): a request not acted on is recorded with the reason."""
    container, parts, _systems = world
    reference = submit_and_verify(container, parts, inbox, request_type="rectification", identity="t@example.co.th",
                                  residence="TH", details={"corrections": {"shoe_size": "42"}})
    run_jobs(container, parts, inbox)
    done = state_of(container, reference)
    assert done.state == "denied" and "no system holds shoe_size" in (done.outcome_reason or "")


def test_a_failing_database_leaves_the_request_in_error_with_what_was_done_and_a_rerun_completes(
        world: tuple[Container, RightsParts, DataSystems], inbox: Inbox, panasonic: CompiledPolicy,
        systems_url: str) -> None:
    """Issue #4 (bad input): never a half-erased table; the request says what was done so far."""
    container, parts, systems = world
    oracle = Oracle(snapshot(systems))
    _number, email = customer(oracle, 11)
    no_approval = RightsParts(settings=parts.settings.model_copy(update={"approval_required": []}),
                              secret=parts.secret, mailer=parts.mailer)  # no queue: the test runs the work itself
    with container.unit_of_work() as session:
        request = service.submit_request(session=session, policy=panasonic, parts=no_approval, request_in=(
            RightsRequestCreate(request_type="deletion", identity=email, residence="DE")))  # type: ignore[arg-type]
        session.commit()
    with container.unit_of_work() as session:
        service.verify_request(session=session, policy=panasonic, reference=request.reference, parts=no_approval,
                               verify_in=VerifyIn(code=inbox.last_code(email)))
        service.start_request(session=session, policy=panasonic, reference=request.reference, parts=no_approval,
                              actor="staff:x")
        session.commit()
    sqlite = systems_url.startswith("sqlite")
    trigger = ("CREATE TRIGGER refuse BEFORE DELETE ON customers BEGIN SELECT RAISE(ABORT, 'disk on fire'); END"
               if sqlite else "CREATE TRIGGER refuse BEFORE DELETE ON customers FOR EACH ROW EXECUTE FUNCTION refuse()")
    from sqlalchemy import text

    with systems.systems.engine("accounts").begin() as conn:
        if not sqlite:
            conn.execute(text("SET search_path TO accounts"))
            conn.execute(text("CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
                              "RAISE EXCEPTION 'disk on fire'; END $$"))
        conn.execute(text(trigger))
    with container.unit_of_work() as session:
        execute_request(session=session, policy=panasonic, reference=request.reference, parts=no_approval,
                        systems=systems, package_folder=Path("unused"), actor="worker:test", approved=True)
        session.commit()
    failed = state_of(container, request.reference)
    assert failed.state == "error"
    assert "disk on fire" in (failed.outcome_reason or "")
    statuses = {tuple(d["datasets"]): d["status"] for d in failed.result["erasure"]["databases"]}
    assert "failed" in statuses.values()

    with systems.systems.engine("accounts").begin() as conn:
        conn.execute(text("DROP TRIGGER refuse" if sqlite else "DROP TRIGGER refuse ON accounts.customers"))
    with container.unit_of_work() as session:
        service.start_request(session=session, policy=panasonic, reference=request.reference, parts=no_approval,
                              actor="staff:x", approved=True)
        execute_request(session=session, policy=panasonic, reference=request.reference, parts=no_approval,
                        systems=systems, package_folder=Path("unused"), actor="worker:test", approved=True)
        session.commit()
    assert state_of(container, request.reference).state == "completed"


def test_without_a_data_map_a_request_goes_to_error_not_to_completed(
        rights_container: Container, inbox: Inbox, panasonic: CompiledPolicy) -> None:
    from pledge.rights.jobs import parts_for

    parts = parts_for(rights_container)
    reference = submit_and_verify(rights_container, parts, inbox, request_type="access", identity="n@example.com",
                                  residence="DE")
    run_jobs(rights_container, parts, inbox)
    request = state_of(rights_container, reference)
    assert request.state == "error" and "cannot be used" in (request.outcome_reason or "")


# --- the consent ledger ---------------------------------------------------------------------------------


def ledger(container: Container) -> list[tuple[str, str, str]]:
    with container.unit_of_work() as session:
        return [(e.kind, e.target, e.collection_point) for e in session.scalars(select(ConsentEvent)
                                                                                .order_by(ConsentEvent.id))]


def test_an_opt_out_of_sale_is_written_to_the_consent_ledger_without_verification(
        rights_container: Container, inbox: Inbox) -> None:
    """11 CCR §§ 7026(f), 7060(b): the opt-out takes effect through the ledger every decision reads."""
    from pledge.rights.jobs import parts_for

    parts = parts_for(rights_container)
    reference = submit_and_verify(rights_container, parts, inbox, request_type="opt_out_sale_share",
                                  identity="optout@example.com", residence="US-CA")
    run_jobs(rights_container, parts, inbox)
    request = state_of(rights_container, reference)
    assert request.state == "completed" and request.subject_id is not None
    assert ledger(rights_container) == [("opted_out", "sale_share", "rights_request")]
    run_jobs(rights_container, parts, inbox)  # nothing more to do, nothing written twice
    assert len(ledger(rights_container)) == 1


@pytest.mark.parametrize("kind, details, expected", [
    ("objection", {}, [("objection_raised", "direct_marketing", "rights_request")]),
    ("restriction", {}, [("restriction_requested", "", "rights_request")]),
])
def test_objection_and_restriction_are_written_to_the_consent_ledger(
        kind: str, details: dict[str, Any], expected: list[tuple[str, str, str]], rights_container: Container,
        inbox: Inbox) -> None:
    """GDPR Art. 21(3) (objection to direct marketing) and Art. 18 (restriction), as ledger events."""
    from pledge.rights.jobs import parts_for

    parts = parts_for(rights_container)
    reference = submit_and_verify(rights_container, parts, inbox, request_type=kind, identity="obj@example.com",
                                  residence="DE", details=details)
    run_jobs(rights_container, parts, inbox)
    assert state_of(rights_container, reference).state == "completed"
    assert ledger(rights_container) == expected


def test_systems_listing_is_per_dataset(world: tuple[Container, RightsParts, DataSystems]) -> None:
    _container, _parts, systems = world
    assert isinstance(systems.systems, Systems) and "accounts" in systems.systems.locations


@pytest.mark.parametrize("token", ["R-1.\u00b2\u00b3.sig", "R-1.123.s\u00efg", "R-1." + "9" * 5000 + ".sig", "a.b", ""])
def test_a_malformed_package_link_is_refused_as_a_link_error(token: str) -> None:
    """The package route is public: whatever a person pastes is a LinkError (a 4xx), never a crash."""
    with pytest.raises(packages.LinkError):
        packages.read_link(SECRET.encode(), token, utcnow())
