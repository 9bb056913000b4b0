"""The public privacy centre: the notices, each notice with its last-updated date, and the archive.

Seed promise: "LAST UPDATED, July 29, 2024 — See previous versions of the Privacy Notice in our
Notice Archives" (000_8ec896ddd871dbc0.txt, intro): each notice shows when it was last updated, and
every earlier version stays readable.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from fastapi.testclient import TestClient

from pledge.bootstrap import Container
from pledge.notices import service
from pledge.web import create_app
from tests.conftest import PolicyFolder

TEMPLATES = Path(__file__).resolve().parents[2] / "src" / "pledge" / "web" / "templates"


def test_root_leads_to_the_privacy_centre(client: TestClient) -> None:
    response = client.get("/", follow_redirects=False)

    assert response.status_code == 307
    assert response.headers["location"].endswith("/privacy")


def test_privacy_lists_every_notice_with_its_last_updated_date(client: TestClient) -> None:
    response = client.get("/privacy")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "Acme App Privacy Notice" in response.text and "Acme US Privacy Policy" in response.text
    assert '<time datetime="2022-06-27">27 June 2022</time>' in response.text
    assert '<time datetime="2024-07-29">29 July 2024</time>' in response.text
    assert 'href="http://testserver/privacy/app"' in response.text
    assert 'href="http://testserver/privacy/app/versions"' in response.text


def test_notice_page_shows_the_notice_and_its_last_updated_date(client: TestClient) -> None:
    response = client.get("/privacy/app")

    assert response.status_code == 200
    assert '<html lang="en">' in response.text
    assert "<h1>Acme App Privacy Notice</h1>" in response.text
    assert 'Last updated: <time datetime="2022-06-27">27 June 2022</time>' in response.text
    assert 'id="rights-EEA"' in response.text and 'id="rights-default"' in response.text
    assert 'href="http://testserver/privacy/app/versions"' in response.text


def test_jurisdiction_narrows_the_notice_page(client: TestClient) -> None:
    response = client.get("/privacy/app", params={"jurisdiction": "DE"})

    assert response.status_code == 200
    assert 'id="rights-EEA"' in response.text
    assert 'id="rights-default"' not in response.text
    assert 'href="http://testserver/privacy/app?jurisdiction=EEA" aria-current="page"' in response.text


def test_notice_page_escapes_policy_text(client: TestClient) -> None:
    response = client.get("/privacy/app")

    assert "<script>" not in response.text
    assert "&lt;script&gt;" in response.text


def test_an_unknown_notice_is_a_404_page_not_a_stack_trace(client: TestClient) -> None:
    response = client.get("/privacy/nope")

    assert response.status_code == 404
    assert response.headers["content-type"].startswith("text/html")
    assert "<h1>Unknown notice</h1>" in response.text
    assert "Traceback" not in response.text


def test_an_unknown_page_is_a_404_page(client: TestClient) -> None:
    response = client.get("/privacy/app/nothing-here")

    assert response.status_code == 404
    assert response.headers["content-type"].startswith("text/html")


def test_start_up_publishes_the_first_version_so_the_archive_is_never_empty(client: TestClient) -> None:
    response = client.get("/privacy/app/versions")

    assert response.status_code == 200
    assert 'href="http://testserver/privacy/app/versions/1">Version 1</a>' in response.text
    assert '<time datetime="2022-06-27">27 June 2022</time>' in response.text


def test_archive_row_shows_number_date_content_hash_and_policy_revision(client: TestClient,
                                                                       web_container: Container) -> None:
    with web_container.unit_of_work() as session:
        version = service.get_version(session=session, notice_id="app", number=1)

    page = client.get("/privacy/app/versions").text

    assert f'<code title="{version.content_hash}">{version.content_hash[:12]}</code>' in page
    assert f'<code title="{web_container.policy.revision}">{web_container.policy.revision[:12]}</code>' in page
    assert version.published_at.strftime("%Y-%m-%d %H:%M UTC") in page


def test_version_page_shows_the_stored_notice(client: TestClient) -> None:
    response = client.get("/privacy/app/versions/1")

    assert response.status_code == 200
    assert "Archived version 1" in response.text
    assert "This is the version published now." in response.text
    assert "<h1>Acme App Privacy Notice</h1>" in response.text


def test_the_original_page_is_byte_for_byte_what_was_published(client: TestClient,
                                                              web_container: Container) -> None:
    with web_container.unit_of_work() as session:
        version = service.get_version(session=session, notice_id="app", number=1)

    response = client.get("/privacy/app/versions/1/original")

    assert response.status_code == 200
    assert hashlib.sha256(response.content).hexdigest() == version.content_hash


def test_an_unknown_or_malformed_version_is_a_404_page(client: TestClient) -> None:
    for path in ("/privacy/app/versions/9", "/privacy/app/versions/0", "/privacy/app/versions/abc",
                 "/privacy/nope/versions", "/privacy/nope/versions/1", "/privacy/app/versions/9/original"):
        response = client.get(path)
        assert response.status_code == 404, path
        assert response.headers["content-type"].startswith("text/html"), path


def test_archive_keeps_the_old_version_when_the_notice_changes(web_container: Container,
                                                               render_copy: PolicyFolder) -> None:
    """S0 intro: earlier versions stay readable, exactly as they were published."""
    with TestClient(create_app(web_container)):
        pass  # start-up publishes version 1 of the original policy
    changed = render_copy.edit("notices/app.yaml", "title: Acme App Privacy Notice",
                               "title: Acme App Privacy Notice (2025)").compile()
    with web_container.unit_of_work() as session:
        service.publish_notice(session=session, policy=changed, notice_id="app")
        session.commit()
    newer = Container(settings=web_container.settings, engine=web_container.engine,
                      session_factory=web_container.session_factory, policy=changed)

    with TestClient(create_app(newer)) as client:
        current = client.get("/privacy/app").text
        archive = client.get("/privacy/app/versions").text
        old = client.get("/privacy/app/versions/1").text

    assert "<h1>Acme App Privacy Notice (2025)</h1>" in current
    assert archive.index("Version 2") < archive.index("Version 1")  # newest first
    assert "<h1>Acme App Privacy Notice</h1>" in old
    assert 'A newer version exists: <a href="http://testserver/privacy/app/versions/2">version 2</a>' in old


def test_restarting_does_not_publish_again(web_container: Container) -> None:
    for _ in range(2):
        with TestClient(create_app(web_container)):
            pass

    with web_container.unit_of_work() as session:
        assert [v.number for v in service.list_versions(session=session, notice_id="app")] == [1]


def test_a_notice_removed_from_the_policy_keeps_its_archive(web_container: Container,
                                                             render_copy: PolicyFolder) -> None:
    with TestClient(create_app(web_container)):
        pass
    (render_copy.root / "notices" / "us.yaml").unlink()  # its categories become unused: warnings only
    smaller = render_copy.compile()
    newer = Container(settings=web_container.settings, engine=web_container.engine,
                      session_factory=web_container.session_factory, policy=smaller)

    with TestClient(create_app(newer)) as client:
        assert client.get("/privacy/us-web").status_code == 404
        archive = client.get("/privacy/us-web/versions")
        version = client.get("/privacy/us-web/versions/1")

    assert archive.status_code == 200 and "Acme US Privacy Policy" in archive.text
    assert version.status_code == 200 and "<h1>Acme US Privacy Policy</h1>" in version.text


def test_healthz_reports_the_policy_revision(client: TestClient, web_container: Container) -> None:
    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok", "policy_revision": web_container.policy.revision, "notices": 2}


def test_static_stylesheet_is_served(client: TestClient) -> None:
    response = client.get("/static/pledge.css")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/css")


def test_templates_build_every_url_with_url_for() -> None:
    """STYLE.md: URLs come from one helper, never string-built in templates."""
    for template in TEMPLATES.rglob("*.html"):
        for target in re.findall(r'(?:href|src|action)="([^"]*)"', template.read_text()):
            assert target.startswith(("{{ url_for(", "{{ base", "{{ href", "#")), f"{template.name}: {target}"
