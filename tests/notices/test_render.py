"""Rendering a notice: one resolved document, the same promises in Markdown, HTML and JSON.

Seed promise: the notice states, in the seeds' order of topics, what is collected and how, each
purpose with the categories it uses and its legal basis (the S2 §4 table,
002_9e508a21e3d0ba23.txt#4), disclosures, cookies (the S2 cookie policy §4.1 table), transfers,
retention, security, the rights of each jurisdiction with their deadlines, children, changes,
contacts and the complaint authority.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from html.parser import HTMLParser
from pathlib import Path

import pytest

from pledge.notices.errors import UnknownNotice
from pledge.notices.render import (
    ARTICLE_END,
    ARTICLE_START,
    BASIS_LABELS,
    RIGHT_LABELS,
    SECTION_TITLES,
    UnknownFormat,
    extract_article,
    long_date,
    notice_document,
    render_notice,
)
from pledge.policy import CompiledPolicy, load_compiled
from pledge.policy.models import LegalBasis, Right

RENDER_POLICY = Path(__file__).resolve().parents[1] / "fixtures" / "policies" / "render"
PANASONIC_POLICY = Path(__file__).resolve().parents[2] / "policies" / "panasonic"
NOTICES = ("app", "us-web")
FORMATS = ("md", "html", "json")

#: The keys another module (the diff) reads from a notice document.
DOCUMENT_KEYS = {"id", "title", "last_updated", "summary", "controller", "jurisdictions", "data_categories",
                 "purposes", "disclosures", "sale_and_sharing", "cookies", "transfers", "retention", "security",
                 "rights", "rights_requests", "children", "changes", "contacts", "complaint_authority"}


@pytest.fixture(scope="module")
def policy() -> CompiledPolicy:
    """tests/fixtures/policies/render: an EEA app notice and a US web notice, with a cookie table."""
    return load_compiled(RENDER_POLICY)


class _Html(HTMLParser):
    """Collects what the tests look at: ids, th scopes, the html lang, tables by class, raw tags."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.ids: list[str] = []
        self.th_without_scope = 0
        self.lang: str | None = None
        self.tables: dict[str, list[list[str]]] = {}
        self.headings: list[tuple[str, str]] = []
        self.tags: Counter[str] = Counter()
        self._table: str | None = None
        self._row: list[str] | None = None
        self._cell: list[str] | None = None
        self._heading: tuple[str, list[str]] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        self.tags[tag] += 1
        if attributes.get("id"):
            self.ids.append(attributes["id"])
        if tag == "html":
            self.lang = attributes.get("lang")
        if tag == "th" and not attributes.get("scope"):
            self.th_without_scope += 1
        if tag == "table":
            self._table = attributes.get("class") or ""
            self.tables.setdefault(self._table, [])
        if tag == "tr" and self._table is not None:
            self._row = []
        if tag in ("td", "th") and self._row is not None:
            self._cell = []
        if tag in ("h1", "h2", "h3"):
            self._heading = (tag, [])

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._row is not None and self._cell is not None:
            self._row.append(" ".join("".join(self._cell).split()))
            self._cell = None
        if tag == "tr" and self._table is not None and self._row is not None:
            self.tables[self._table].append(self._row)
            self._row = None
        if tag == "table":
            self._table = None
        if self._heading and tag == self._heading[0]:
            self.headings.append((tag, " ".join("".join(self._heading[1]).split())))
            self._heading = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)
        if self._heading is not None:
            self._heading[1].append(data)


def parse(html: str) -> _Html:
    parser = _Html()
    parser.feed(html)
    parser.close()
    return parser


def md_table_rows(markdown: str, header: str) -> list[list[str]]:
    """The body rows of the Markdown table whose header row starts with ``header``."""
    lines = markdown.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(f"| {header} |"))
    rows = []
    for line in lines[start + 2:]:
        if not line.startswith("|"):
            break
        cells = re.split(r"(?<!\\)\|", line.strip())[1:-1]
        rows.append([cell.strip() for cell in cells])
    return rows


# --- every format, every notice -------------------------------------------------------------------


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("notice_id", NOTICES)
def test_every_notice_renders_in_every_format(policy: CompiledPolicy, notice_id: str, fmt: str) -> None:
    text = render_notice(policy, notice_id, fmt)

    notice = policy.notices[notice_id]
    assert notice.title in text
    shown = notice.last_updated.isoformat() if fmt == "json" else long_date(notice.last_updated.isoformat())
    assert f"Last updated: {shown}" in text if fmt == "md" else shown in text
    assert text.endswith("\n")


@pytest.mark.parametrize("notice_id", NOTICES)
def test_json_format_is_the_notice_document(policy: CompiledPolicy, notice_id: str) -> None:
    assert json.loads(render_notice(policy, notice_id, "json")) == notice_document(policy, notice_id)


@pytest.mark.parametrize("fmt", FORMATS)
def test_rendering_is_deterministic_so_the_content_hash_is_stable(policy: CompiledPolicy, fmt: str) -> None:
    assert render_notice(policy, "app", fmt) == render_notice(policy, "app", fmt)


def test_document_has_the_keys_the_rest_of_pledge_reads(policy: CompiledPolicy) -> None:
    document = notice_document(policy, "app")

    assert set(document) >= DOCUMENT_KEYS
    assert document["last_updated"] == "2022-06-27"
    assert set(document["controller"]) >= {"id", "legal_name", "address", "contacts", "data_protection_officer",
                                           "eea_representative"}
    purpose = next(p for p in document["purposes"] if p["id"] == "marketing")
    assert set(purpose) >= {"id", "name", "description", "categories", "basis", "consent", "sale", "share",
                            "targeted_advertising", "profiling", "automated_decision", "marketing_channels",
                            "withdrawal", "recipients", "source"}
    assert purpose["categories"] == ["identity", "contact", "usage"]
    assert purpose["basis"] == {"EEA": "consent", "default": "legitimate_interests"}
    assert purpose["consent"] is True
    assert set(document["disclosures"][0]) >= {"recipient", "recipient_name", "role", "purposes", "categories",
                                               "sale", "share", "fields", "source"}
    assert set(document["transfers"][0]) >= {"destinations", "safeguard", "supplementary_measures",
                                             "copy_on_request", "source"}
    assert set(document["retention"][0]) >= {"id", "categories", "period", "until", "action",
                                             "legal_reason_for_longer", "source"}
    assert {r["period"] for r in document["retention"]} == {None, "13 months"}


def test_document_is_json_safe(policy: CompiledPolicy) -> None:
    for notice_id in NOTICES:
        document = notice_document(policy, notice_id)
        assert json.loads(json.dumps(document)) == document


def test_unknown_notice_is_a_key_error_naming_the_known_ones(policy: CompiledPolicy) -> None:
    with pytest.raises(UnknownNotice) as caught:
        render_notice(policy, "nope", "html")

    assert isinstance(caught.value, KeyError)
    assert "nope" in str(caught.value) and "app" in str(caught.value)


def test_unknown_format_is_refused(policy: CompiledPolicy) -> None:
    with pytest.raises(UnknownFormat):
        render_notice(policy, "app", "pdf")


# --- order of topics and plain language ----------------------------------------------------------


def test_sections_follow_the_seeds_order_of_topics(policy: CompiledPolicy) -> None:
    html = parse(render_notice(policy, "app", "html"))
    titles = [re.sub(r"^\d+\. ", "", text) for tag, text in html.headings if tag == "h2" and text != "Contents"]

    assert titles == [title for _, title in SECTION_TITLES]


def test_markdown_numbers_the_sections_in_the_same_order(policy: CompiledPolicy) -> None:
    markdown = render_notice(policy, "app", "md")
    headings = re.findall(r"^## (\d+)\. (.+)$", markdown, flags=re.MULTILINE)

    assert [title for _, title in headings] == [title for _, title in SECTION_TITLES]
    assert [int(number) for number, _ in headings] == list(range(1, len(SECTION_TITLES) + 1))


def test_sections_without_content_are_left_out_and_the_rest_renumbered(policy: CompiledPolicy) -> None:
    markdown = render_notice(policy, "us-web", "md")

    assert "International transfers" not in markdown
    assert "## 7. How long we keep your personal data" in markdown


@pytest.mark.parametrize("fmt", ["md", "html"])
def test_legal_bases_and_rights_are_in_plain_words_not_enum_names(policy: CompiledPolicy, fmt: str) -> None:
    text = render_notice(policy, "app", fmt) + render_notice(policy, "us-web", fmt)

    for name in ("legitimate_interests", "notice_at_collection", "withdraw_consent", "from_person",
                 "opt_out_sale_share"):
        assert name not in text
    for words in ("Legitimate interests", "Performance of a contract", "Consent", "From you directly",
                  "Opt out of the sale or sharing of your personal data"):
        assert words in text


def test_every_legal_basis_and_right_has_plain_words() -> None:
    assert set(BASIS_LABELS) == set(LegalBasis)
    assert set(RIGHT_LABELS) == set(Right)


def test_deadlines_are_stated_in_plain_words(policy: CompiledPolicy) -> None:
    """GDPR Art. 12(3): one month, extendable by two, the person told within the first month."""
    rights = notice_document(policy, "app")["rights"]["EEA"]
    access = next(r for r in rights if r["right"] == "access")

    assert access["deadline"] == "We answer within 1 month of receiving your request."
    assert access["extension"] == "We may extend this by 2 months and will tell you why within the first month."
    assert access["source"] == "GDPR Art. 12(3), Art. 15"
    assert "We answer within 45 calendar days" in render_notice(policy, "us-web", "md")
    assert "We confirm that we received your request within 10 business days." in render_notice(
        policy, "us-web", "html")


def test_rights_the_notice_states_appear_even_where_the_law_is_silent(policy: CompiledPolicy) -> None:
    rights = notice_document(policy, "app")["rights"]

    stated = {r["right"]: r for r in rights["EEA"]}
    assert stated["rectification"]["stated_in_notice"] and not stated["rectification"]["granted_by_law"]
    assert {"access", "rectification", "deletion", "portability"} <= {r["right"] for r in rights["default"]}


@pytest.mark.parametrize("fmt", ["md", "html"])
def test_each_section_shows_its_source_in_small_print(policy: CompiledPolicy, fmt: str) -> None:
    text = render_notice(policy, "app", fmt)

    for source in ("test fixture#3", "test fixture#4 (table: Send Marketing Communications)", "test fixture#5.I",
                   "test fixture#cookies-4.1", "test fixture#8", "test fixture#9", "GDPR Art. 12(3), Art. 15",
                   "test fixture#12", "test fixture#complaints"):
        assert source in text
    assert "<small>Source:" in text


# --- the S2-like tables ----------------------------------------------------------------------------


def test_markdown_basis_table_has_a_row_per_category_and_purpose(policy: CompiledPolicy) -> None:
    """S2 §4: 'Activity and purpose | Types of Personal Data | Legal basis'."""
    rows = md_table_rows(render_notice(policy, "app", "md"), "Activity and purpose")

    expected = [[purpose.name, policy.data_categories[category].name]
                for purpose in policy.notices["app"].purposes for category in purpose.categories]
    assert [row[:2] for row in rows] == expected
    assert rows[0][2] == "Performance of a contract"
    marketing = [row for row in rows if row[0] == "Send Marketing Communications"]
    assert {row[2] for row in marketing} == {"Consent (European Economic Area); Legitimate interests (Everywhere else)"}


def test_html_basis_table_groups_a_purpose_over_its_categories(policy: CompiledPolicy) -> None:
    html = render_notice(policy, "app", "html")
    rows = parse(html).tables["basis-table"][1:]  # without the header row

    assert len(rows) == sum(len(p.categories) for p in policy.notices["app"].purposes)
    assert rows[0] == ["Provide our Services", "Identity Data", "Performance of a contract"]
    assert rows[1] == ["Contact Data"]  # the purpose and its basis span the group
    assert '<th scope="rowgroup" rowspan="3">Send Marketing Communications</th>' in html


def test_category_table_says_how_each_category_is_collected(policy: CompiledPolicy) -> None:
    rows = md_table_rows(render_notice(policy, "app", "md"), "Type of personal data")

    by_name = {row[0]: row for row in rows}
    assert by_name["Contact Data"][2] == "From you directly; From third parties: retailers, social login providers"
    assert by_name["Profile and Usage Data"][2].startswith("Automatically")


def test_cookie_table_has_the_columns_of_the_s2_cookie_policy(policy: CompiledPolicy) -> None:
    """S2 cookie policy §4.1: Cookie, Purpose, Placed by, Used by, Data collected, Duration."""
    html = parse(render_notice(policy, "us-web", "html"))
    cookies = html.tables["cookies"]

    assert cookies[0] == ["Cookie", "Purpose", "Placed by", "Used by", "Data collected and purpose of collection",
                          "Duration"]
    assert ["ads_id", "Tailored advertising", "AdNet", "AdNet", "Pages you visit", "365 days"] in cookies
    assert ["session_id", "Keeps you signed in", "Acme", "Acme", "", "Until browser is closed"] in cookies
    markdown = render_notice(policy, "us-web", "md")
    assert "### Advertising cookies" in markdown and "### Essential cookies" in markdown


# --- HTML: a full, accessible, escaped page --------------------------------------------------------


@pytest.mark.parametrize("notice_id", NOTICES)
def test_html_is_a_full_accessible_page(policy: CompiledPolicy, notice_id: str) -> None:
    html = render_notice(policy, notice_id, "html")
    page = parse(html)

    assert html.startswith("<!doctype html>")
    assert page.lang == "en"
    assert page.tags["h1"] == 1 and page.tags["title"] == 1 and page.tags["main"] == 1
    assert page.th_without_scope == 0
    assert not [ident for ident, count in Counter(page.ids).items() if count > 1]
    assert page.tags["caption"] == page.tags["table"]


def test_html_escapes_policy_text(policy: CompiledPolicy) -> None:
    html = render_notice(policy, "app", "html")

    assert "<script>" not in html
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in html
    assert "the Acme app &amp; its features" in html


def test_markdown_escapes_raw_html_and_table_breaks(policy: CompiledPolicy) -> None:
    markdown = render_notice(policy, "app", "md")

    assert "<script>" not in markdown
    assert "&lt;script&gt;" in markdown


def test_article_can_be_cut_from_the_page(policy: CompiledPolicy) -> None:
    html = render_notice(policy, "app", "html")
    article = extract_article(html)

    assert article is not None and article.strip().startswith('<article class="notice" id="notice-app"')
    assert html.count(ARTICLE_START) == 1 and html.count(ARTICLE_END) == 1
    assert extract_article("<html>no markers</html>") is None


# --- narrowing to one jurisdiction ------------------------------------------------------------------


def test_narrowing_keeps_only_that_jurisdictions_rights_bases_and_children(policy: CompiledPolicy) -> None:
    document = notice_document(policy, "app", jurisdiction="DE")  # Germany is in the EEA group

    assert document["jurisdiction"] == "EEA"
    assert list(document["rights"]) == ["EEA"]
    assert [c["jurisdiction"] for c in document["children"]] == ["EEA"]
    marketing = next(p for p in document["purposes"] if p["id"] == "marketing")
    assert marketing["basis"] == {"EEA": "consent"}
    provide = next(p for p in document["purposes"] if p["id"] == "provide")
    assert provide["basis"] == {"EEA": "contract"}  # the notice's default, applied in the EEA
    assert list(document["complaint_authority"]) == ["EEA"]


def test_narrowed_html_drops_other_jurisdictions_rights(policy: CompiledPolicy) -> None:
    everywhere = render_notice(policy, "app", "html")
    eea = render_notice(policy, "app", "html", jurisdiction="EEA")

    assert 'id="rights-default"' in everywhere and 'id="rights-EEA"' in everywhere
    assert 'id="rights-default"' not in eea and 'id="rights-EEA"' in eea
    assert "This is the notice for people in European Economic Area." in eea


def test_a_reader_from_elsewhere_gets_the_notices_default(policy: CompiledPolicy) -> None:
    document = notice_document(policy, "app", jurisdiction="US-CA")  # defined, but not covered by this notice

    assert document["jurisdiction"] == "default"
    assert list(document["rights"]) == ["default"]
    assert next(p for p in document["purposes"] if p["id"] == "marketing")["basis"] == {
        "default": "legitimate_interests"}
    assert [c["age"] for c in document["children"]] == [13]


def test_narrowing_a_us_notice_to_california(policy: CompiledPolicy) -> None:
    document = notice_document(policy, "us-web", jurisdiction="US-CA")
    markdown = render_notice(policy, "us-web", "md", jurisdiction="US-CA")

    assert list(document["rights"]) == ["US-CA"]
    assert document["jurisdiction_details"]["US-CA"]["opt_out_signals"][0]["name"] == "Global Privacy Control"
    assert "Everywhere else" not in markdown
    assert "| Targeted advertising | Profile and Usage Data | Notice at collection (you can opt out) |" in markdown


# --- the real policy ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def panasonic() -> CompiledPolicy:
    return load_compiled(PANASONIC_POLICY)


def test_every_panasonic_notice_renders_as_a_valid_page(panasonic: CompiledPolicy) -> None:
    for notice_id in panasonic.notices:
        page = parse(render_notice(panasonic, notice_id, "html"))
        assert page.th_without_scope == 0, notice_id
        assert not [i for i, count in Counter(page.ids).items() if count > 1], notice_id
        assert json.loads(render_notice(panasonic, notice_id, "json"))["id"] == notice_id
        assert render_notice(panasonic, notice_id, "md").startswith(f"# {panasonic.notices[notice_id].title}")
