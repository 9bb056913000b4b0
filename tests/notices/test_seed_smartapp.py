"""S2 (002_9e508a21e3d0ba23.txt), Panasonic Privacy Notice (SmartApp+), 2022-06-27, with its Thai
Appendix and Cookie Policy: what the rendered notice must state.

Each table row is one promise of seed-commitments.md: (promise, seed clause, text fragments the
Markdown notice must contain). A fragment given as a tuple is satisfied by any one of its
alternatives. Whitespace is normalised before matching. Rows of the seed's own tables (the §3
categories, the §4 category x purpose x basis table, the Cookie Policy §4.1 cookie table) must be
stated together: all their fragments on one line of the Markdown (one table row).
"""

from __future__ import annotations

import pytest

from tests.notices.seed_promises import Row, check, check_together, ids, lines, normalised, rendered_markdown

SEED = "002_9e508a21e3d0ba23.txt"
NOTICE = "smartapp"


@pytest.fixture(scope="module")
def notice_md() -> str:
    return normalised(rendered_markdown(NOTICE))


@pytest.fixture(scope="module")
def notice_lines() -> list[str]:
    return lines(rendered_markdown(NOTICE))


SCOPE: list[Row] = [
    ("issuer and controller", "1", ("Panasonic Corporation", "1006", "Kadoma-shi, Osaka 571-8501")),
    ("responsible company for this website", "1", ("Panasonic Corporation Living Appliances and Solutions Company",)),
    ("joint controllers: rights against the issuer", "1", ("exercise your rights against the company issuing",)),
    ("services covered", "intro", ("Panasonic SmartApp+",)),
    ("last updated", "Last updated", (("27 June 2022", "June 27, 2022", "2022-06-27"),)),
    ("combined data is personal data", "2", ("we treat the combined information as Personal Data",)),
    ("no solely automated decisions", "4", ("does not base any decision solely on automated processing",)),
    ("third-party links", "10", ("YouTube, LinkedIn and Facebook", "not under Panasonic's control")),
    ("Thai appendix prevails", "Thai-intro", ("prevails over any conflicting provision",)),
    ("Thai: data required by contract, else no service", "Thai-2",
     ("Terms and Conditions of Use", "the Services will be unavailable")),
]

# §3 table: category, one example, how it is collected.
CATEGORIES: list[Row] = [
    ("business communication data", "3", ("Business Communication Data", "chat messages", "From you directly")),
    ("identity data", "3", ("Identity Data", "birthday", "username or similar identifier", "From you directly")),
    ("location data", "3", ("Location Data", "GPS signal", "cell towers", "Automatically")),
    ("marketing and communications data", "3",
     ("Marketing and Communications Data", "language settings", "receive and read marketing communications",
      "Automatically")),
    ("product/device/application data", "3",
     ("Product/Device/Application Data", "IMEI number", "MAC address", "IP address", "Automatically")),
    ("profile and usage data", "3",
     ("Profile and Usage Data", "passwords and login data", "web browsing history", "Automatically")),
    ("transactional data", "3", ("Transactional Data", "model number", "serial number", "From you directly")),
]

CONTRACT = "Performance of a contract"
LEGITIMATE_INTERESTS = "Legitimate interests"
LEGAL_OBLIGATION = "Legal obligation"

# §4 table, row by row: activity -> (legal basis, types of personal data).
SECTION_4_TABLE: dict[str, tuple[str, tuple[str, ...]]] = {
    "Manage this website and our Services": (
        LEGITIMATE_INTERESTS,
        ("Identity Data", "Profile and Usage Data", "Product/Device/Application Data", "Location Data")),
    "Creating an Account or Profile": (CONTRACT, ("Identity Data", "Transactional Data")),
    "Publish your comments on message boards and forums": (
        CONTRACT, ("Business Communication Data", "Identity Data", "Profile and Usage Data")),
    "Provide our Services": (CONTRACT, ("Business Communication Data", "Identity Data", "Transactional Data")),
    "Updates": (LEGITIMATE_INTERESTS, ("Identity Data", "Transactional Data")),
    "Promotions": (CONTRACT, ("Identity Data", "Transactional Data")),
    "Send Marketing Communications": (
        CONTRACT,
        ("Identity Data", "Marketing and Communications Data", "Product/Device/Application Data",
         "Profile and Usage Data")),
    "Service Improvement and Surveys": (
        LEGITIMATE_INTERESTS, ("Profile and Usage Data", "Identity Data", "Transactional Data")),
    "Compliance and legal action": (
        LEGAL_OBLIGATION, ("Business Communication Data", "Identity Data", "Transactional Data")),
    "Others": (
        LEGITIMATE_INTERESTS,
        ("Identity Data", "Marketing and Communications Data", "Product/Device/Application Data",
         "Profile and Usage Data")),
}

PURPOSE_ROWS: list[Row] = [
    (f"{activity} / {category} / {basis}", f"4 (table: {activity})", (f"| {activity} |", category, basis))
    for activity, (basis, categories) in SECTION_4_TABLE.items()
    for category in categories
]

BASES: list[Row] = [
    ("bases explained", "4", (CONTRACT, LEGITIMATE_INTERESTS, LEGAL_OBLIGATION)),
    ("legitimate interests: objection and balancing test on request", "4",
     ("object", "balancing")),
]

MARKETING: list[Row] = [
    ("channels post, email, phone, SMS", "7 (Your rights related to Marketing Communication)",
     ("post", "email", "telephone", "SMS")),
    ("opt out in My Panasonic Account", "7", ("My Panasonic Account",)),
    ("opt out through the Section 14 contacts", "7", ("Section 14",)),
    ("marketing objection stops marketing processing", "7",
     ("we shall stop processing your Personal Data for those purposes",)),
]

RECIPIENTS: list[Row] = [
    ("I. Panasonic Corporation and Affiliates", "5-I", ("Panasonic Corporation and Affiliates",)),
    ("II. Service Providers, as processors", "5-II", ("Service Providers", "data processors")),
    ("III. law and protection of the business", "5-III",
     ("Third parties when required by Law or to Protect our Business and Services", "valid legal process")),
    ("IV. corporate transactions", "5-IV", ("Other Parties in Connection With Corporate Transactions", "bankruptcy")),
    ("V. with consent or at your direction", "5-V", ("Other Parties With Your Consent or At Your Direction",)),
    ("no third-party marketing without explicit consent", "5",
     ("will not disclose your Personal Data to third parties for their own independent marketing",
      "explicit consent")),
]

TRANSFERS: list[Row] = [
    ("Japan, Singapore, Brazil", "8", ("Japan", "Singapore", "Brazil")),
    ("supplementary measures", "8", ("supplementary measures", "essentially the same level of protection")),
    ("Thai table: Japan's standard", "Thai-3", ("Act on the Protection of Personal Information",)),
    ("Thai table: Singapore's standard", "Thai-3", ("PDPA in Singapore",)),
    ("Thai table: Brazil's standard", "Thai-3", ("Lei Geral de Proteção de Dados Pessoais", "LGPD")),
    ("Thai table: standards differ from the PDPA", "Thai-3", ("may be different from the Thai PDPA",)),
]

RETENTION: list[Row] = [
    ("only as long as the purposes need", "9", ("period necessary to fulfil the purposes",)),
    ("legal, regulatory, accounting, reporting obligations", "9",
     ("legal, regulatory, accounting, reporting obligation",)),
    ("legal claims", "9", ("establishment and defence of legal claims",)),
]

SECURITY: list[Row] = [
    ("appropriate measures", "6", ("appropriate physical and technical measures",)),
    ("ISM programme", "6", ("Information Security Management",)),
    ("PDCA over the whole lifecycle", "6", ("Plan-Do-Check-Act", "from collection to destruction")),
]

RIGHTS: list[Row] = [
    ("informed", "7", ("Be informed",)),
    ("access", "7", ("Access a copy of your personal data",)),
    ("rectification", "7", ("Have inaccurate personal data corrected",)),
    ("erasure", "7", ("Have your personal data deleted",)),
    ("restriction", "7", ("Restrict how we use your personal data",)),
    ("objection", "7", ("Object to how we use your personal data",)),
    ("no solely automated decisions", "7", ("Not be subject to a decision based solely on automated processing",)),
    ("portability", "7", ("portable format",)),
    ("withdraw consent", "7", ("Withdraw your consent at any time",)),
    ("requests through the Section 14 contacts", "7 (Exercising your rights)", ("customer@vn.panasonic.com",)),
    ("Thai rights under the PDPA", "Thai-4", ("Thailand", "Personal Data Protection Act")),
    ("Thai: access incl. how data was obtained without consent", "Thai-4", ("obtained without consent",)),
    ("Thai: erase, destroy or anonymise", "Thai-4", (("destroy",), ("anonymise", "anonymize"))),
    ("Thai: suspend use", "Thai-4", ("Suspend the use",)),
    ("Thai: refused rectification recorded with its reason", "Thai-4",
     (("recorded with the reason", "recorded with its reason", "record your request with the reason"),)),
]

CHILDREN: list[Row] = [
    ("not intended for under 16", "12", ("under the age of 16",)),
    ("under 20 for Thai residents", "Thai-6", ("Thailand", "under the age of 20")),
]

CHANGES: list[Row] = [
    ("changes effective on posting", "13", ("effective upon our posting of the revised Privacy Notice",)),
    ("additional notice if material", "13", ("additional notice", "material")),
]

CONTACTS: list[Row] = [
    ("Vietnam postal address", "14", ("1st Floor, Charmvit Tower, 117 Tran Duy Hung Str., Cau Giay Dist., Hanoi",)),
    ("Vietnam phone", "14", ("+84 4 3 7 950 109",)),
    ("Vietnam e-mail", "14", ("customer@vn.panasonic.com",)),
    ("Thai residents use the Section 14 contacts", "Thai-7", ("For Vietnam",)),
]

COMPLAINTS: list[Row] = [
    ("complaint to the PDPC", "Thai-5", ("Office of the Personal Data Protection Committee",)),
]

COOKIE_CATEGORIES: list[Row] = [
    ("essential cookies on legitimate interests", "Cookie-2.1, Cookie-2.6",
     ("Essential cookies", "legitimate interests")),
    ("performance cookies", "Cookie-2.2", ("Performance cookies",)),
    ("functional cookies", "Cookie-2.3", ("Functional cookies",)),
    ("advertising cookies", "Cookie-2.4", ("Advertising cookies",)),
    ("consent cookies", "Cookie-2.5", ("Consent cookies",)),
    ("non-essential cookies only with consent, withdrawable in cookie settings", "Cookie-2.6, Cookie-5.1",
     ("only with your consent", "cookie settings")),
]

# Cookie Policy §4.1: cookie, purpose, placed by, used by, data collected, duration.
COOKIE_ROWS: list[Row] = [
    ("auth0", "Cookie-4.1", ("`auth0`", "To implement authentication and SSO", "Auth0", "100 days")),
    ("auth0_compat", "Cookie-4.1", ("`auth0_compat`", "To implement authentication and SSO", "Auth0", "100 days")),
    ("did", "Cookie-4.1", ("`did`", "Security and device recognition", "Auth0", "365 days")),
    ("did_compat", "Cookie-4.1", ("`did_compat`", "Security and device recognition", "Auth0", "365 days")),
    ("auth0-mf", "Cookie-4.1", ("`auth0-mf`", "To implement multi-factor authentication", "Auth0", "100 days")),
    ("auth0-mf_compat", "Cookie-4.1",
     ("`auth0-mf_compat`", "To implement multi-factor authentication", "Auth0", "100 days")),
    ("_csrf", "Cookie-4.1", ("`_csrf`", "Security", "Auth0", "10 days")),
    ("x_pdpauth_ams_api", "Cookie-4.1",
     ("`x_pdpauth_ams_api`", "Authentication session", "Account Management Services",
      "used to authenticate sessions as long as browser sessions are maintained", "Until browser is closed")),
]


def _row_id(row: object) -> str:
    return row[0] if isinstance(row, tuple) else str(row)


@pytest.mark.parametrize("row", SCOPE, ids=ids(SCOPE))
def test_scope_controller_and_date(notice_md: str, row: Row) -> None:
    """§1 Information about us, §2, §4 (Art. 22), §10, Thai Appendix intro and §2."""
    check(notice_md, row, SEED)


@pytest.mark.parametrize("row", CATEGORIES, ids=ids(CATEGORIES))
def test_categories_with_collection_method(notice_lines: list[str], row: Row) -> None:
    """§3 table: each category with its examples and how it is collected, on one row."""
    check_together(notice_lines, row, SEED)


@pytest.mark.parametrize("row", PURPOSE_ROWS, ids=ids(PURPOSE_ROWS))
def test_section_4_table_rows(notice_lines: list[str], row: Row) -> None:
    """§4 table: every (activity and purpose, type of personal data, legal basis) row."""
    check_together(notice_lines, row, SEED)


@pytest.mark.parametrize("row", BASES, ids=ids(BASES))
def test_legal_bases_explained(notice_md: str, row: Row) -> None:
    """§4: the legal bases relied on, and the right to object to legitimate interests."""
    check(notice_md, row, SEED)


@pytest.mark.parametrize("row", MARKETING, ids=ids(MARKETING))
def test_marketing_channels_and_opt_out(notice_md: str, row: Row) -> None:
    """§7 Your rights related to Marketing Communication."""
    check(notice_md, row, SEED)


@pytest.mark.parametrize("row", RECIPIENTS, ids=ids(RECIPIENTS))
def test_recipients(notice_md: str, row: Row) -> None:
    """§5 To whom do we disclose your Personal Data? (I-V)."""
    check(notice_md, row, SEED)


@pytest.mark.parametrize("row", TRANSFERS, ids=ids(TRANSFERS))
def test_international_transfers(notice_md: str, row: Row) -> None:
    """§8 International Transfers and Thai Appendix §3 (table of destinations and standards)."""
    check(notice_md, row, SEED)


@pytest.mark.parametrize("row", RETENTION, ids=ids(RETENTION))
def test_retention(notice_md: str, row: Row) -> None:
    """§9 Data Retention."""
    check(notice_md, row, SEED)


@pytest.mark.parametrize("row", SECURITY, ids=ids(SECURITY))
def test_security(notice_md: str, row: Row) -> None:
    """§6 What do we do to keep your Personal Data secure?"""
    check(notice_md, row, SEED)


@pytest.mark.parametrize("row", RIGHTS, ids=ids(RIGHTS))
def test_rights(notice_md: str, row: Row) -> None:
    """§7 What are your rights? / Exercising your rights, and Thai Appendix §4."""
    check(notice_md, row, SEED)


@pytest.mark.parametrize("row", CHILDREN, ids=ids(CHILDREN))
def test_children(notice_md: str, row: Row) -> None:
    """§12 Children's Personal Data (under 16) and Thai Appendix §6 (under 20)."""
    check(notice_md, row, SEED)


@pytest.mark.parametrize("row", CHANGES, ids=ids(CHANGES))
def test_changes(notice_md: str, row: Row) -> None:
    """§13 Changes to this Privacy Notice."""
    check(notice_md, row, SEED)


@pytest.mark.parametrize("row", CONTACTS, ids=ids(CONTACTS))
def test_contacts(notice_md: str, row: Row) -> None:
    """§14 Contact Us (Vietnam) and Thai Appendix §7."""
    check(notice_md, row, SEED)


@pytest.mark.parametrize("row", COMPLAINTS, ids=ids(COMPLAINTS))
def test_complaint_authority(notice_md: str, row: Row) -> None:
    """Thai Appendix §5 Complaints: the Office of the Personal Data Protection Committee."""
    check(notice_md, row, SEED)


@pytest.mark.parametrize("row", COOKIE_CATEGORIES, ids=ids(COOKIE_CATEGORIES))
def test_cookie_categories(notice_md: str, row: Row) -> None:
    """Cookie Policy §2 (types of cookies, legal bases) and §5.1 (cookie settings)."""
    check(notice_md, row, SEED)


@pytest.mark.parametrize("row", COOKIE_ROWS, ids=[_row_id(r) for r in COOKIE_ROWS])
def test_cookie_table_rows(notice_lines: list[str], row: Row) -> None:
    """Cookie Policy §4.1 Essential cookies: every row of the cookie table."""
    check_together(notice_lines, row, SEED)
