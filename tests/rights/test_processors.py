"""Processors (service providers) are told by signed webhooks what to delete or stop (GDPR Art. 19; 11 CCR
§§ 7022(b)(3), 7026(f)): exactly the processors the policy names, never more than each received, signed with
HMAC-SHA256 over timestamp and body, retried with back-off, every attempt recorded. A real HTTP receiver on
loopback checks each signature itself. SQLite and PostgreSQL alike."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from pledge.bootstrap import Container, bootstrap
from pledge.demo.build import build
from pledge.jobs.models import JobRow
from pledge.jobs.queue import SqlJobQueue
from pledge.jobs.worker import Worker
from pledge.policy import CompiledPolicy
from pledge.policy.models import RecipientRole
from pledge.rights import processors, service
from pledge.rights.jobs import DataSystems, open_systems
from pledge.rights.mail import SmtpMailer
from pledge.rights.processor_models import ProcessorNotification
from pledge.rights.processors import Action, IdentityFormat, ProcessorError
from pledge.rights.schemas import RequestType, RightsRequestCreate, VerifyIn
from pledge.rights.service import RightsParts
from pledge.settings import ProcessorSettings, Settings
from tests.conftest import CliInvoke, PostgresServer
from tests.datamap.conftest import DATASETS, Demo, Oracle
from tests.rights.conftest import SECRET, Inbox

WEBHOOK_SECRET = "processor-webhook-secret-0123456789"
SECRET_ENV = "PLEDGE_TEST_PROCESSOR_SECRET"


# --- a processor's receiver ------------------------------------------------------------------------------


@dataclass
class Received:
    """One POST as the processor saw it, and whether its own check of the signature passed."""

    path: str
    headers: dict[str, str]
    body: bytes
    signature_valid: bool

    @property
    def payload(self) -> dict[str, Any]:
        parsed: dict[str, Any] = json.loads(self.body)
        return parsed


@dataclass
class Receiver:
    """A processor's webhook receiver on a loopback port: verifies the signature the way a processor would
    (its own HMAC code, not pledge's), answers with the scripted statuses, then 200 (401 for a bad signature)."""

    secret: bytes
    statuses: list[int] = field(default_factory=list)
    received: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    port: int = 0

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def check(self, header: str, body: bytes) -> bool:
        fields = dict(part.split("=", 1) for part in header.split(",") if "=" in part)
        if not fields.get("t", "").isdigit() or abs(time.time() - int(fields["t"])) > 300:
            return False
        expected = hmac.new(self.secret, fields["t"].encode() + b"." + body, hashlib.sha256).hexdigest()
        return hmac.compare_digest(expected, fields.get("v1", ""))

    def answer(self, path: str, headers: dict[str, str], body: bytes) -> int:
        valid = self.check(headers.get("Pledge-Signature", ""), body)
        with self.lock:
            self.received.append(Received(path, headers, body, valid))
            scripted = self.statuses.pop(0) if self.statuses else None
        if not valid:
            return 401
        return scripted or 200

    def paths(self) -> set[str]:
        with self.lock:
            return {r.path for r in self.received}


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A real HTTP server (``http.server``) on a free loopback port, on its own thread for the test."""
    state = Receiver(secret=WEBHOOK_SECRET.encode())

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            status = state.answer(self.path, dict(self.headers.items()), body)
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet: the test reads ``state.received`` instead."""

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.port = int(server.server_address[1])
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


@pytest.fixture
def webhook_secret(monkeypatch: pytest.MonkeyPatch) -> str:
    """The secret lives in an environment variable; the endpoint stores only its name."""
    monkeypatch.setenv(SECRET_ENV, WEBHOOK_SECRET)
    return WEBHOOK_SECRET


# --- helpers ---------------------------------------------------------------------------------------------


FAST = ProcessorSettings(backoff_seconds=0, max_attempts=3, timeout_seconds=5)


def wired(settings: Settings, policy: CompiledPolicy) -> Container:
    """pledge with processor notifications that retry at once (no waiting in tests), at most three tries."""
    return bootstrap(settings.model_copy(update={"processors": FAST}), policy=policy)


@pytest.fixture
def pledge_with_processors(rights_settings: Settings, panasonic: CompiledPolicy) -> Iterator[Container]:
    """pledge on a fresh database with the Panasonic policy."""
    with wired(rights_settings, panasonic) as container:
        yield container


def parts_of(container: Container) -> RightsParts:
    queue = SqlJobQueue(container.session_factory, container.settings.jobs)
    return RightsParts(settings=container.settings.rights, secret=SECRET.encode(),
                       mailer=SmtpMailer(container.settings.mail), queue=queue)


def run_jobs(container: Container, parts: RightsParts) -> int:
    assert parts.queue is not None
    return Worker(container=container, queue=parts.queue, mailer=parts.mailer, worker_id="test-worker",
                  retry_delay=lambda _n: 0.0).run(burst=True)


def add_endpoint(container: Container, recipient: str, url: str, **options: Any) -> None:
    with container.unit_of_work() as session:
        processors.add_endpoint(session=session, policy=container.policy, recipient=recipient, url=url,
                                secret_env=options.pop("secret_env", SECRET_ENV), **options)
        session.commit()


def submit(container: Container, parts: RightsParts, inbox: Inbox, **fields: Any) -> str:
    with container.unit_of_work() as session:
        request = service.submit_request(session=session, policy=container.policy, parts=parts,
                                         request_in=RightsRequestCreate(**fields))
        session.commit()
    if request.state == "awaiting_verification":
        with container.unit_of_work() as session:
            outcome = service.verify_request(session=session, policy=container.policy, reference=request.reference,
                                             verify_in=VerifyIn(code=inbox.last_code(fields["identity"])),
                                             parts=parts)
            session.commit()
        assert outcome.verified, outcome.message
    return request.reference


def notifications(container: Container, reference: str | None = None) -> list[ProcessorNotification]:
    with container.unit_of_work() as session:
        return [n for n, _ref in processors.list_notifications(session=session, reference=reference)]


def sha256(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


# --- who is told, from the policy alone (no I/O) -----------------------------------------------------------


def test_a_processor_that_received_no_affected_category_is_not_told(minimal_policy: CompiledPolicy) -> None:
    """GDPR Art. 19: each recipient to whom the data were disclosed. The mailer received contact data only, so
    erasing usage data concerns the hosting provider alone."""
    told = processors.processors_to_tell(minimal_policy, request_type=RequestType.DELETION, jurisdiction="EEA",
                                         erased_categories=["usage"])
    assert [(t.recipient, t.action, t.categories, t.purposes) for t in told] == [
        ("hosting", Action.DELETE, ("usage",), ("app/service",))]


def test_a_processor_is_told_only_the_categories_and_purposes_it_received(minimal_policy: CompiledPolicy) -> None:
    """Never more than the processor already received: the mailer hears of contact data for the newsletter,
    not of the identity and usage data the hosting provider holds."""
    told = {t.recipient: t for t in processors.processors_to_tell(
        minimal_policy, request_type=RequestType.DELETION, jurisdiction="EEA",
        erased_categories=["identity", "contact", "usage"])}
    assert told["mailer"].categories == ("contact",) and told["mailer"].purposes == ("app/newsletter",)
    assert told["hosting"].categories == ("contact", "identity", "usage")
    # the identity kinds a processor may be sent are those its categories carry: an email (contact data)
    assert told["mailer"].identity_kinds == frozenset({"email"}) == told["hosting"].identity_kinds


def test_withdrawn_consent_stops_only_the_processor_of_that_purpose(minimal_policy: CompiledPolicy) -> None:
    """The newsletter relies on consent; its withdrawal is told to the mailer, not to the hosting provider."""
    told = processors.processors_to_tell(minimal_policy, request_type=RequestType.WITHDRAW_CONSENT,
                                         jurisdiction="EEA")
    assert [(t.recipient, t.action, t.purposes, t.categories) for t in told] == [
        ("mailer", Action.STOP, ("app/newsletter",), ("contact",))]


def test_only_processors_are_told_and_only_under_the_notices_of_the_jurisdiction(panasonic: CompiledPolicy) -> None:
    """A Californian erasure concerns the US notice's service providers (a processor), not its payment
    processors, installers or advertising partners (third parties), nor the UK or global notices' processors."""
    told = processors.processors_to_tell(panasonic, request_type=RequestType.DELETION, jurisdiction="US-CA")
    assert [t.recipient for t in told] == ["us.service_providers"]
    assert all(panasonic.recipients[t.recipient].role is RecipientRole.PROCESSOR
               for t in processors.processors_to_tell(panasonic, request_type=RequestType.DELETION,
                                                      jurisdiction="EEA"))
    # sale and sharing go to third parties only: no processor has anything to stop
    assert processors.processors_to_tell(panasonic, request_type=RequestType.OPT_OUT_SALE_SHARE,
                                         jurisdiction="US-CA") == []
    assert processors.processors_to_tell(panasonic, request_type=RequestType.ACCESS, jurisdiction="EEA") == []


def test_an_objection_to_direct_marketing_reaches_the_processors_that_market(panasonic: CompiledPolicy) -> None:
    """GDPR Art. 21(3) (S2 §7): the UK email service providers send marketing; the payment processor does not."""
    told = {t.recipient: t for t in processors.processors_to_tell(
        panasonic, request_type=RequestType.OBJECTION, jurisdiction="GB")}
    assert "uk.email_service_providers" in told and "uk.payment_processor" not in told
    assert told["uk.email_service_providers"].action is Action.STOP
    assert told["uk.email_service_providers"].purposes == ("uk/marketing",)


# --- signatures --------------------------------------------------------------------------------------------


def test_the_signature_is_hmac_sha256_over_timestamp_and_body() -> None:
    body = b'{"action":"delete"}'
    header = processors.signature_header(b"k" * 32, body, 1_700_000_000)
    expected = hmac.new(b"k" * 32, b"1700000000." + body, hashlib.sha256).hexdigest()
    assert header == f"t=1700000000,v1={expected}"
    assert processors.verify_signature(b"k" * 32, header, body, now=1_700_000_010)


@pytest.mark.parametrize("secret, body, now", [
    (b"w" * 32, b'{"action":"delete"}', 1_700_000_010),  # a wrong secret
    (b"k" * 32, b'{"action":"stop"}', 1_700_000_010),  # a body changed on the way
    (b"k" * 32, b'{"action":"delete"}', 1_700_000_000 + 3600),  # replayed an hour later
])
def test_a_wrong_secret_a_changed_body_or_an_old_timestamp_fails_verification(secret: bytes, body: bytes,
                                                                              now: int) -> None:
    header = processors.signature_header(b"k" * 32, b'{"action":"delete"}', 1_700_000_000)
    assert not processors.verify_signature(secret, header, body, now=now)


# --- endpoints ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("url, why", [
    ("http://processor.example/hook", "use https"),
    ("https://user:pw@processor.example/hook", "credentials"),
    ("ftp://processor.example/hook", "http(s) URL"),
    ("https:///hook", "http(s) URL"),
])
def test_an_endpoint_url_that_would_leak_data_or_a_secret_is_refused(url: str, why: str) -> None:
    with pytest.raises(ProcessorError, match=why.replace("(", r"\(").replace(")", r"\)")):
        processors.check_url(url)


def test_only_a_processor_of_the_policy_gets_an_endpoint_and_the_secret_is_a_variable_name(
        pledge_with_processors: Container) -> None:
    container = pledge_with_processors
    with container.unit_of_work() as session:
        for recipient, secret_env, why in [
            ("us.advertising_partners", SECRET_ENV, "third_party, not a processor"),
            ("nobody", SECRET_ENV, "no recipient 'nobody'"),
            ("us.service_providers", "not a name!", "not an environment variable name"),
        ]:
            with pytest.raises(ProcessorError, match=why):
                processors.add_endpoint(session=session, policy=container.policy, recipient=recipient,
                                        url="https://processor.example/hook", secret_env=secret_env)
        processors.add_endpoint(session=session, policy=container.policy, recipient="us.service_providers",
                                url="https://processor.example/hook", secret_env=SECRET_ENV)
        with pytest.raises(ProcessorError, match="already has an endpoint"):
            processors.add_endpoint(session=session, policy=container.policy, recipient="us.service_providers",
                                    url="https://other.example/hook", secret_env=SECRET_ENV)
        replaced = processors.add_endpoint(session=session, policy=container.policy,
                                           recipient="us.service_providers", url="https://other.example/hook",
                                           secret_env=SECRET_ENV, replace=True)
        assert replaced.url == "https://other.example/hook"
        assert [e.recipient_id for e in processors.list_endpoints(session=session)] == ["us.service_providers"]


# --- delivery over HTTP ------------------------------------------------------------------------------------


def test_a_completed_limit_on_sensitive_data_is_signed_and_delivered_to_the_processor(
        pledge_with_processors: Container, inbox: Inbox, receiver: Receiver, webhook_secret: str,
        caplog: pytest.LogCaptureFixture) -> None:
    """Cal. Civ. Code § 1798.121, 11 CCR § 7026(f): the US service providers are told to stop using the
    person's sensitive data, signed so they can trust it; the UK payment processor, which received none of
    it, hears nothing."""
    container = pledge_with_processors
    parts = parts_of(container)
    add_endpoint(container, "us.service_providers", receiver.url("/us"))
    add_endpoint(container, "uk.payment_processor", receiver.url("/uk"))
    reference = submit(container, parts, inbox, request_type="limit_sensitive", identity="limit@example.com",
                       residence="US-CA")
    caplog.set_level("DEBUG")
    run_jobs(container, parts)

    [got] = receiver.received
    assert got.path == "/us" and got.signature_valid
    payload = got.payload
    [notification] = notifications(container, reference)
    assert notification.state == "delivered" and notification.attempts == 1
    assert payload["id"] == notification.uid == got.headers["Pledge-Notification"]
    assert payload["request"]["reference"] == reference and payload["request"]["type"] == "limit_sensitive"
    assert payload["action"] == "stop" and payload["recipient"] == "us.service_providers"
    sensitive = {c for c, category in container.policy.data_categories.items() if category.sensitive}
    assert payload["categories"] and set(payload["categories"]) <= sensitive
    assert payload["identities"] == [{"kind": "email", "sha256": sha256("limit@example.com")}]
    assert "limit@example.com" not in got.body.decode()  # hashed, as the endpoint is configured
    assert hashlib.sha256(got.body).hexdigest() == notification.body_sha256
    [attempt] = notification.attempt_log
    assert (attempt.number, attempt.status_code, attempt.error, attempt.delivered) == (1, 200, None, True)
    # the request's own log says who was told
    with container.unit_of_work() as session:
        request = service.get_request(session=session, reference=reference)
    [logged] = [e for e in request.events if e.kind == "processors_notified"]
    assert logged.data["notified"] == {"us.service_providers": notification.uid}
    # the secret is in no table and no log line
    assert WEBHOOK_SECRET not in caplog.text
    with container.engine.connect() as conn:
        for table in ("processor_endpoint", "processor_notification", "processor_attempt", "job",
                      "rights_request_event"):
            assert WEBHOOK_SECRET not in str(conn.execute(text(f"SELECT * FROM {table}")).all())


def test_identities_go_in_clear_when_the_endpoint_asks_for_them(
        pledge_with_processors: Container, inbox: Inbox, receiver: Receiver, webhook_secret: str) -> None:
    container = pledge_with_processors
    parts = parts_of(container)
    add_endpoint(container, "us.service_providers", receiver.url(), identities=IdentityFormat.CLEAR)
    submit(container, parts, inbox, request_type="limit_sensitive", identity="clear@example.com",
           residence="US-CA")
    run_jobs(container, parts)
    [got] = receiver.received
    assert got.signature_valid and got.payload["identities"] == [{"kind": "email", "value": "clear@example.com"}]


def test_a_processor_answering_500_twice_is_retried_and_every_attempt_is_recorded(
        pledge_with_processors: Container, inbox: Inbox, receiver: Receiver, webhook_secret: str) -> None:
    """Bounded retries with back-off (here none, so the test does not wait): 500, 500, then 200."""
    container = pledge_with_processors
    parts = parts_of(container)
    receiver.statuses = [500, 500]
    add_endpoint(container, "us.service_providers", receiver.url())
    reference = submit(container, parts, inbox, request_type="limit_sensitive", identity="retry@example.com",
                       residence="US-CA")
    run_jobs(container, parts)

    assert len(receiver.received) == 3 and all(r.signature_valid for r in receiver.received)
    assert len({r.body for r in receiver.received}) == 1  # the same notification each time
    assert [r.headers["Pledge-Attempt"] for r in receiver.received] == ["1", "2", "3"]
    [notification] = notifications(container, reference)
    assert notification.state == "delivered" and notification.attempts == 3
    assert [(a.number, a.status_code, a.delivered) for a in notification.attempt_log] == [
        (1, 500, False), (2, 500, False), (3, 200, True)]
    assert [a.error for a in notification.attempt_log][:2] == ["HTTP 500 Internal Server Error"] * 2
    with container.unit_of_work() as session:
        job = session.get(JobRow, notification.job_id)
        assert job is not None and job.state == "done" and job.attempts == 3


def test_a_wrong_secret_fails_verification_and_the_notification_fails_after_its_attempts(
        pledge_with_processors: Container, inbox: Inbox, receiver: Receiver,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The receiver refuses a body it cannot verify (401); pledge tries three times, records each, then stops."""
    container = pledge_with_processors
    parts = parts_of(container)
    monkeypatch.setenv(SECRET_ENV, "not-the-secret-the-processor-holds")
    add_endpoint(container, "us.service_providers", receiver.url())
    reference = submit(container, parts, inbox, request_type="limit_sensitive", identity="wrong@example.com",
                       residence="US-CA")
    run_jobs(container, parts)

    assert len(receiver.received) == 3 and not any(r.signature_valid for r in receiver.received)
    [notification] = notifications(container, reference)
    assert notification.state == "failed" and notification.attempts == 3
    assert [a.status_code for a in notification.attempt_log] == [401, 401, 401]
    with container.unit_of_work() as session:
        job = session.get(JobRow, notification.job_id)
        assert job is not None and job.state == "failed"


def test_a_missing_secret_is_an_attempt_with_its_error_and_nothing_is_sent(
        pledge_with_processors: Container, inbox: Inbox, receiver: Receiver) -> None:
    container = pledge_with_processors
    parts = parts_of(container)
    add_endpoint(container, "us.service_providers", receiver.url(), secret_env="PLEDGE_TEST_UNSET_SECRET")
    reference = submit(container, parts, inbox, request_type="limit_sensitive", identity="unset@example.com",
                       residence="US-CA")
    run_jobs(container, parts)
    assert receiver.received == []
    [notification] = notifications(container, reference)
    assert notification.state == "failed" and notification.attempts == 3
    assert all("PLEDGE_TEST_UNSET_SECRET" in (a.error or "") and a.status_code is None
               for a in notification.attempt_log)


def test_a_failed_notification_can_be_resent_once_the_processor_is_fixed(
        pledge_with_processors: Container, inbox: Inbox, receiver: Receiver, webhook_secret: str) -> None:
    container = pledge_with_processors
    parts = parts_of(container)
    receiver.statuses = [503, 503, 503]
    add_endpoint(container, "us.service_providers", receiver.url())
    reference = submit(container, parts, inbox, request_type="limit_sensitive", identity="again@example.com",
                       residence="US-CA")
    run_jobs(container, parts)
    [failed] = notifications(container, reference)
    assert failed.state == "failed"
    with container.unit_of_work() as session:
        assert parts.queue is not None
        processors.resend(session=session, uid=failed.uid, queue=parts.queue, settings=container.settings.processors)
        session.commit()
    run_jobs(container, parts)
    [done] = notifications(container, reference)
    assert done.uid == failed.uid and done.state == "delivered"
    assert [a.status_code for a in done.attempt_log] == [503, 503, 503, 200]
    with container.unit_of_work() as session, pytest.raises(ProcessorError, match="was delivered"):
        processors.resend(session=session, uid=done.uid, queue=parts.queue, settings=container.settings.processors)


def test_a_processor_without_an_endpoint_is_named_in_the_log_and_nothing_is_sent_twice(
        pledge_with_processors: Container, inbox: Inbox, receiver: Receiver, webhook_secret: str) -> None:
    """Staff see which processor must be told by other means; running the completion again writes nothing."""
    container = pledge_with_processors
    parts = parts_of(container)
    reference = submit(container, parts, inbox, request_type="limit_sensitive", identity="noone@example.com",
                       residence="US-CA")
    run_jobs(container, parts)
    assert notifications(container, reference) == []
    with container.unit_of_work() as session:
        request = service.get_request(session=session, reference=reference)
        [logged] = [e for e in request.events if e.kind == "processors_notified"]
        assert "us.service_providers" in logged.data["skipped"]
        again = processors.notify_completed(session=session, policy=container.policy, reference=reference,
                                            queue=parts.queue, settings=container.settings.processors,
                                            actor="test")
        assert again.notified == [] and again.skipped == {}


def test_removing_an_endpoint_cancels_what_it_has_not_delivered(
        pledge_with_processors: Container, inbox: Inbox, receiver: Receiver, webhook_secret: str) -> None:
    container = pledge_with_processors
    parts = parts_of(container)
    add_endpoint(container, "us.service_providers", receiver.url())
    reference = submit(container, parts, inbox, request_type="limit_sensitive", identity="gone@example.com",
                       residence="US-CA")
    # run the request, not yet its notification
    assert parts.queue is not None
    Worker(container=container, queue=parts.queue, mailer=parts.mailer, worker_id="w").run(burst=True, max_jobs=1)
    with container.unit_of_work() as session:
        assert processors.remove_endpoint(session=session, recipient="us.service_providers") == 1
        session.commit()
    run_jobs(container, parts)
    [cancelled] = notifications(container, reference)
    assert cancelled.state == "cancelled" and cancelled.endpoint_id is None and receiver.received == []


# --- erasure on the demo systems ---------------------------------------------------------------------------


@pytest.fixture
def demo_world(rights_settings: Settings, database_url: str, tmp_path: Path, request: pytest.FixtureRequest,
               panasonic: CompiledPolicy) -> Iterator[tuple[Container, DataSystems]]:
    """pledge with the demo customer systems (40 people) beside it; erasure runs without a staff approval."""
    if database_url.startswith("sqlite"):
        url = f"sqlite:///{tmp_path / 'systems'}/{{dataset}}.db"
        cleanup = None
    else:
        server: PostgresServer = request.getfixturevalue("postgres_server")
        name = f"systems_{uuid.uuid4().hex[:10]}"
        url = server.create_database(name)
        cleanup = (server, name)
    build(url=url, subjects=40, seed=5)
    settings = rights_settings.model_copy(update={"rights": rights_settings.rights.model_copy(update={
        "datasets_dir": DATASETS, "systems_url": url, "approval_required": []})})
    try:
        with wired(settings, panasonic) as container:
            systems = open_systems(settings, panasonic)
            try:
                yield container, systems
            finally:
                systems.systems.dispose()
    finally:
        if cleanup is not None:
            cleanup[0].drop_database(cleanup[1])


def categories_changed(datamap: Any, before: dict[Any, Any], after: dict[Any, Any]) -> set[str]:
    """The data categories of the fields the erasure deleted or changed, read from the two snapshots."""
    found: set[str] = set()
    for (dataset, table), rows in before.items():
        fields = {f.name: f for f in datamap.node(dataset, table).personal_fields}
        for key, row in rows.items():
            now = after[(dataset, table)].get(key)
            changed = fields.values() if now is None else [fields[n] for n in fields if row.get(n) != now.get(n)]
            found.update(c for f in changed for c in f.categories)
    return found


def processors_the_policy_names(policy: CompiledPolicy, jurisdiction: str, categories: set[str]) -> set[str]:
    """Read straight from the notices: processors that received any of these categories."""
    named: set[str] = set()
    for notice in policy.notices.values():
        if jurisdiction not in notice.jurisdictions:
            continue
        purposes = {p.id: p for p in notice.purposes}
        for purpose in notice.purposes:
            if categories & set(purpose.categories):
                named.update(r for r in purpose.recipients if policy.recipients[r].role is RecipientRole.PROCESSOR)
        for disclosure in notice.disclosures:
            if policy.recipients[disclosure.recipient].role is not RecipientRole.PROCESSOR:
                continue
            got = set(disclosure.categories) or {c for p in disclosure.purposes for c in purposes[p].categories}
            if not disclosure.categories and not disclosure.purposes:
                got = set(notice.data_categories)
            if got & categories:
                named.add(disclosure.recipient)
    return named


def test_a_completed_erasure_on_the_demo_systems_notifies_exactly_the_processors_the_policy_names(
        demo_world: tuple[Container, DataSystems], inbox: Inbox, receiver: Receiver, webhook_secret: str,
        panasonic: CompiledPolicy) -> None:
    """GDPR Art. 17(2) and 19: the erasure of an Irish customer is told to every processor the notices for the
    EEA say received a category that was erased, and to no other; each is signed and names only what that
    processor received."""
    container, systems = demo_world
    parts = parts_of(container)
    every_processor = sorted(r for r, recipient in panasonic.recipients.items()
                             if recipient.role is RecipientRole.PROCESSOR)
    for recipient in every_processor:
        add_endpoint(container, recipient, receiver.url(f"/{recipient}"))
    before = Demo(systems.datamap, systems.systems, "").snapshot()
    oracle = Oracle(before)
    number = sorted(r["customer_number"] for r in oracle.customers.values())[2]
    email = oracle.email_of(number)
    reference = submit(container, parts, inbox, request_type="deletion", identity=email, residence="IE")
    run_jobs(container, parts)

    with container.unit_of_work() as session:
        request = service.get_request(session=session, reference=reference)
    assert request.state == "completed", request.outcome_reason
    erased = categories_changed(systems.datamap, before, Demo(systems.datamap, systems.systems, "").snapshot())
    assert erased and set(request.result["erasure"]["categories"]) == erased
    expected = processors_the_policy_names(panasonic, "EEA", erased)
    # some processors are told and some are not (this customer has no SmartApp+ data and no community posts)
    assert expected and expected < set(every_processor)
    assert receiver.paths() == {f"/{r}" for r in expected}
    assert len(receiver.received) == len(expected) and all(r.signature_valid for r in receiver.received)
    sent = notifications(container, reference)
    assert {n.recipient_id for n in sent} == expected and {n.state for n in sent} == {"delivered"}
    received = processors.received_by_processors(panasonic, "EEA")
    for got in receiver.received:
        payload = got.payload
        assert payload["action"] == "delete" and payload["request"]["reference"] == reference
        recipient = payload["recipient"]
        assert got.path == f"/{recipient}"
        assert set(payload["categories"]) <= erased & received[recipient].categories
        assert {"kind": "email", "sha256": sha256(email)} in payload["identities"]


# --- the CLI -----------------------------------------------------------------------------------------------


def test_staff_add_list_and_remove_processor_endpoints(cli: CliInvoke, pledge_env: Settings) -> None:
    """The minimal policy's processors: the hosting provider and the mailer. The secret is named, never given."""
    added = cli("processor", "add", "hosting", "--url", "https://hosting.example/pledge", "--secret-env",
                "HOSTING_WEBHOOK_SECRET")
    assert added.exit_code == 0, added.output
    assert "hosting: https://hosting.example/pledge (secret from $HOSTING_WEBHOOK_SECRET" in added.stdout
    assert "HOSTING_WEBHOOK_SECRET is not set here" in added.stderr

    listed = cli("processor", "list")
    assert listed.exit_code == 0, listed.output
    rows = {line.split()[1]: line for line in listed.stdout.splitlines() if line.startswith("│")}
    assert "https://hosting.example/pledge" in rows["hosting"] and "missing" in rows["hosting"]
    assert "(no endpoint)" in rows["mailer"]

    for args, message in [
        (["nobody", "--url", "https://x.example/", "--secret-env", "S"], "the policy has no recipient 'nobody'"),
        (["mailer", "--url", "http://mailer.example/", "--secret-env", "S"], "use https"),
        (["mailer", "--url", "https://mailer.example/", "--secret-env", "NOT A NAME"], "not an environment"),
        (["hosting", "--url", "https://other.example/", "--secret-env", "S"], "already has an endpoint"),
    ]:
        refused = cli("processor", "add", *args)
        assert refused.exit_code == 1 and message in refused.stderr, refused.output
    replaced = cli("processor", "add", "hosting", "--url", "https://other.example/", "--secret-env", "S",
                   "--replace", "--inactive")
    assert replaced.exit_code == 0 and "inactive" in replaced.stdout, replaced.output

    assert json.loads(cli("processor", "notifications", "--format", "json").stdout) == []
    assert cli("processor", "remove", "hosting").exit_code == 0
    gone = cli("processor", "remove", "hosting")
    assert gone.exit_code == 2 and "hosting has no endpoint" in gone.stderr
    missing = cli("processor", "resend", "PN-0000000000000000")
    assert missing.exit_code == 2 and "no processor notification" in missing.stderr


def test_staff_read_the_record_of_each_notification_and_its_attempts(
        cli: CliInvoke, pledge_with_processors: Container, inbox: Inbox, receiver: Receiver, webhook_secret: str,
        monkeypatch: pytest.MonkeyPatch) -> None:
    container = pledge_with_processors
    parts = parts_of(container)
    receiver.statuses = [502]
    add_endpoint(container, "us.service_providers", receiver.url())
    reference = submit(container, parts, inbox, request_type="limit_sensitive", identity="record@example.com",
                       residence="US-CA")
    run_jobs(container, parts)
    settings = container.settings
    monkeypatch.setenv("PLEDGE_DATABASE_URL", settings.effective_database_url)
    monkeypatch.setenv("PLEDGE_POLICY_DIR", str(settings.policy_dir))
    monkeypatch.setenv("PLEDGE_DATA_DIR", str(settings.data_dir))

    shown = cli("processor", "notifications", "--request", reference, "--attempts")
    assert shown.exit_code == 0, shown.output
    [notification] = notifications(container, reference)
    assert notification.uid in shown.stdout and "delivered" in shown.stdout
    assert f"{notification.uid} #1 " in shown.stdout and "502 HTTP 502 Bad Gateway" in shown.stdout
    assert f"{notification.uid} #2 " in shown.stdout
    [item] = json.loads(cli("processor", "notifications", "--processor", "us.service_providers",
                            "--format", "json").stdout)
    assert item["request"] == reference and [a["status"] for a in item["attempt_log"]] == [502, 200]
    assert "record@example.com" not in shown.stdout  # the listing never shows the person
    assert json.loads(cli("processor", "notifications", "--state", "failed", "--format", "json").stdout) == []
