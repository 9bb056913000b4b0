"""Publishing notices: numbered versions, a new one only when what people read has changed.

Seed promise: "See previous versions of the Privacy Notice in our Notice Archives"
(000_8ec896ddd871dbc0.txt, intro) — every published version is kept, exactly as published.
"""

from __future__ import annotations

import hashlib

import pytest
from sqlalchemy.orm import Session, sessionmaker

from pledge.notices import service
from pledge.notices.diff import Materiality
from pledge.notices.errors import UnknownNotice
from pledge.notices.render import notice_document, render_notice
from pledge.notices.service import UnknownVersion
from pledge.policy import CompiledPolicy
from pledge.store import unit_of_work
from tests.conftest import PolicyFolder

NEW_CATEGORY_IN_NEWSLETTER = ("notices/app.yaml", "    categories: [contact]\n    basis: {default: consent}",
                              "    categories: [contact, usage]\n    basis: {default: consent}")


def test_first_publish_stores_version_1_with_what_people_read(session: Session,
                                                              minimal_policy: CompiledPolicy) -> None:
    version = service.publish_notice(session=session, policy=minimal_policy, notice_id="app")

    html = render_notice(minimal_policy, "app", "html")
    assert version.number == 1
    assert version.html == html
    assert version.content_hash == hashlib.sha256(html.encode()).hexdigest()
    assert version.markdown == render_notice(minimal_policy, "app", "md")
    assert version.snapshot == notice_document(minimal_policy, "app")
    assert version.policy_revision == minimal_policy.revision
    assert version.published_at.utcoffset() is not None


def test_publishing_an_unchanged_notice_again_returns_the_current_version(
        session: Session, minimal_policy: CompiledPolicy) -> None:
    first = service.publish_notice(session=session, policy=minimal_policy, notice_id="app")
    again = service.publish_notice(session=session, policy=minimal_policy, notice_id="app")

    assert again.id == first.id
    assert [v.number for v in service.list_versions(session=session, notice_id="app")] == [1]


def test_a_changed_notice_gets_the_next_number(session: Session, minimal_policy: CompiledPolicy,
                                               minimal_copy: PolicyFolder) -> None:
    changed = minimal_copy.edit(*NEW_CATEGORY_IN_NEWSLETTER).compile()

    first = service.publish_notice(session=session, policy=minimal_policy, notice_id="app")
    second = service.publish_notice(session=session, policy=changed, notice_id="app")
    unchanged = service.publish_notice(session=session, policy=changed, notice_id="app")

    assert (first.number, second.number, unchanged.number) == (1, 2, 2)
    assert second.content_hash != first.content_hash
    assert second.policy_revision == changed.revision
    assert service.current_version(session=session, notice_id="app") is second
    assert service.get_version(session=session, notice_id="app", number=1).snapshot == first.snapshot


def test_going_back_to_an_earlier_text_is_a_new_version(session: Session, minimal_policy: CompiledPolicy,
                                                        minimal_copy: PolicyFolder) -> None:
    changed = minimal_copy.edit(*NEW_CATEGORY_IN_NEWSLETTER).compile()
    for policy in (minimal_policy, changed, minimal_policy):
        service.publish_notice(session=session, policy=policy, notice_id="app")

    versions = service.list_versions(session=session, notice_id="app")
    assert [v.number for v in versions] == [1, 2, 3]
    assert versions[2].content_hash == versions[0].content_hash


def test_a_policy_change_elsewhere_does_not_make_a_new_version(session: Session, minimal_policy: CompiledPolicy,
                                                               minimal_copy: PolicyFolder) -> None:
    """The policy revision changes with any edit; the notice version only with what its readers see."""
    elsewhere = minimal_copy.edit("policy.yaml", "name: Minimal Ltd\n", "name: Minimal Limited\n").compile()
    assert elsewhere.revision != minimal_policy.revision

    first = service.publish_notice(session=session, policy=minimal_policy, notice_id="app")
    again = service.publish_notice(session=session, policy=elsewhere, notice_id="app")
    assert again.id == first.id


def test_numbers_count_per_notice(session: Session, minimal_copy: PolicyFolder) -> None:
    app_text = (minimal_copy.root / "notices" / "app.yaml").read_text()
    (minimal_copy.root / "notices" / "web.yaml").write_text(
        app_text.replace("id: app\n", "id: web\n").replace("services: [minimal-app]", "services: [minimal-web]"))
    policy = minimal_copy.compile()

    service.publish_notice(session=session, policy=policy, notice_id="app")
    web = service.publish_notice(session=session, policy=policy, notice_id="web")

    assert web.number == 1
    assert [v.notice_id for v in service.list_versions(session=session, notice_id="web")] == ["web"]


def test_an_unknown_notice_is_refused_and_nothing_is_stored(session: Session,
                                                            minimal_policy: CompiledPolicy) -> None:
    with pytest.raises(UnknownNotice, match="unknown notice 'nope' \\(known: app\\)"):
        service.publish_notice(session=session, policy=minimal_policy, notice_id="nope")
    assert service.list_versions(session=session, notice_id="nope") == []
    assert service.current_version(session=session, notice_id="nope") is None


def test_an_unknown_version_is_refused(session: Session, minimal_policy: CompiledPolicy) -> None:
    service.publish_notice(session=session, policy=minimal_policy, notice_id="app")
    with pytest.raises(UnknownVersion, match="notice 'app' has no published version 7"):
        service.get_version(session=session, notice_id="app", number=7)


def test_the_service_does_not_commit(session_factory: sessionmaker[Session],
                                     minimal_policy: CompiledPolicy) -> None:
    with unit_of_work(session_factory) as session:
        service.publish_notice(session=session, policy=minimal_policy, notice_id="app")
    with unit_of_work(session_factory) as session:
        assert service.list_versions(session=session, notice_id="app") == []


def test_a_committed_version_is_archived_exactly_as_published(session_factory: sessionmaker[Session],
                                                              minimal_policy: CompiledPolicy) -> None:
    with unit_of_work(session_factory) as session:
        published = service.publish_notice(session=session, policy=minimal_policy, notice_id="app")
        session.commit()
    with unit_of_work(session_factory) as session:
        archived = service.get_version(session=session, notice_id="app", number=1)
        assert (archived.html, archived.markdown, archived.snapshot, archived.published_at) == (
            published.html, published.markdown, published.snapshot, published.published_at)


def test_versions_can_be_compared(session: Session, minimal_policy: CompiledPolicy,
                                  minimal_copy: PolicyFolder) -> None:
    """A new data category in a consent purpose is material and needs fresh consent
    (003_7293f6a511e294b4.txt#14: "where required by applicable law, we will obtain your consent")."""
    changed = minimal_copy.edit(*NEW_CATEGORY_IN_NEWSLETTER).compile()
    service.publish_notice(session=session, policy=minimal_policy, notice_id="app")
    service.publish_notice(session=session, policy=changed, notice_id="app")

    result = service.diff_versions(session=session, notice_id="app", old=1, new=2)

    assert result.material
    assert [c.reasons for c in result.material_changes] == [(Materiality.NEW_CATEGORY_IN_CONSENT_PURPOSE,)]
    assert result.reconsent_purposes == ("newsletter",)
    with pytest.raises(UnknownVersion):
        service.diff_versions(session=session, notice_id="app", old=1, new=3)
