"""S0 (000_8ec896ddd871dbc0.txt), Panasonic Corporation of North America, 2024-07-29: what the
rendered notice must state.

Each table row is one promise of seed-commitments.md: (promise, seed clause, text fragments the
Markdown notice must contain). A fragment given as a tuple is satisfied by any one of its
alternatives. Whitespace is normalised before matching.
"""

from __future__ import annotations

import pytest

from tests.notices.seed_promises import Row, check, ids, normalised, rendered_markdown

SEED = "000_8ec896ddd871dbc0.txt"


@pytest.fixture(scope="module")
def notice_md() -> str:
    return normalised(rendered_markdown("us"))


SCOPE: list[Row] = [
    ("controller", "Privacy Notice", ("Panasonic Corporation of North America",)),
    ("last updated", "Privacy Notice (LAST UPDATED)", (("29 July 2024", "July 29, 2024", "2024-07-29"),)),
    ("earlier versions archived", "Privacy Notice", ("Notice Archives",)),
    ("services covered", "Privacy Notice", ("websites, mobile applications, and other products and services",)),
    ("changes announced", "Privacy Notice", ("revising the date at the top of the policy", "additional notice")),
]

CATEGORIES: list[Row] = [
    ("identifiers", "Information You Provide to Us", ("Identifiers", "social media handle")),
    ("contact", "Information You Provide to Us", ("Contact Information", "postal address")),
    ("payment: card numbers collected", "Information You Provide to Us", ("Payment Data", "credit card numbers")),
    ("security credentials", "Information You Provide to Us",
     ("Security Information", "answers to security questions")),
    ("demographics", "Information You Provide to Us", ("Demographics", "nationality")),
    ("communications", "Information You Provide to Us", ("Voluntary Communications",)),
    ("photos and video", "Information You Provide to Us", ("Photos, Video, and Other Multimedia Information",)),
    ("preferences", "Information You Provide to Us", ("Preferences", "time zone")),
    ("service use", "Information You Provide to Us", ("Service Use Information", "search terms")),
    ("transactions", "Information we Automatically Collect", ("Transactional Information", "purchase price")),
    ("logs and usage", "Information we Automatically Collect", ("Log and Usage Information", "IP address")),
    ("device", "Information we Automatically Collect", ("Device Information", "hardware model")),
    ("precise location", "Information we Automatically Collect", ("Precise Location Information",)),
    ("audiovisual: CCTV and recorded calls", "Information we Automatically Collect",
     ("Audiovisual Information", "security cameras", "record your calls")),
    ("cookies", "Information we Automatically Collect",
     ("Information Collected by Cookies and Similar Tracking Technologies",)),
    ("derived and inferred", "Derivative and Inferred Information",
     ("Derivative and Inferred Information", "inferences regarding your preferences or habits")),
    ("from other sources", "Information We Collect from Other Sources",
     ("identity verification services", "credit bureaus", "mailing list providers", "publicly available sources")),
    ("social login", "Information We Collect from Other Sources",
     ("Social Media Account Information", "friends lists")),
]

PURPOSES: list[Row] = [
    ("use 1", "Our Uses of Information", ("Deliver the products and services you request",)),
    ("use 2", "Our Uses of Information", ("Customize your experience",)),
    ("use 3", "Our Uses of Information", ("Administer your account",)),
    ("use 4", "Our Uses of Information", ("Target advertisements based on your interests",)),
    ("use 5", "Our Uses of Information", ("Deliver marketing communications",)),
    ("use 6 (ads)", "Our Uses of Information", ("Understand how you interact with ads",)),
    ("use 6 (notices, support)", "Our Uses of Information", ("Technical notices, support and customer service",)),
    ("use 7", "Our Uses of Information", ("Analyze the success of our Services",)),
    ("use 8", "Our Uses of Information", ("Better understand the needs and interests of our customers",)),
    ("use 9", "Our Uses of Information", ("Manage the website's interactive functionality",)),
    ("use 10", "Our Uses of Information", ("Products, services, offers, events and news",)),
    ("use 11", "Our Uses of Information", ("Monitor and analyze trends, usage and activities",)),
    ("use 12", "Our Uses of Information", ("Comply with legal and regulatory obligations",)),
    ("use 13", "Our Uses of Information", ("Detect and prevent fraud and breaches",)),
    ("use 14", "Our Uses of Information", ("Personalize and improve the Services",)),
    ("use 15", "Our Uses of Information", ("Contests, sweepstakes and promotions",)),
    ("use 16", "Our Uses of Information", ("Other purposes described at collection",)),
    ("location only with consent", "Location Information",
     ("Location features of our mobile applications", "location preferences on your mobile device")),
    ("push only with consent", "Mobile Push Notifications/Alerts",
     ("Mobile push notifications and alerts", "notification settings on your mobile device")),
]

BASES: list[Row] = [
    ("US: notice at collection with opt-outs", "Additional Information for Residents of California, Colorado, "
     "Connecticut, Utah and Virginia", ("Notice at collection",)),
    ("EEA: contract", "Legal Basis for Processing", ("Performance of a contract",)),
    ("EEA: legitimate interests", "Legal Basis for Processing", ("Legitimate interests",)),
    ("EEA: legal obligation", "Legal Basis for Processing", ("Legal obligation",)),
    ("EEA: consent", "Legal Basis for Processing", ("Consent",)),
    ("legitimate interest explained, assessment on request", "Legal Basis for Processing",
     ("how we assess our legitimate interests",)),
    ("marketing opt-out", "Promotional Communications",
     ("unsubscribe instructions in our promotional emails", "privacy@us.panasonic.com")),
    ("transactional messages continue after opt-out", "Promotional Communications", ("non-promotional emails",)),
]

RECIPIENTS: list[Row] = [
    ("service providers", "Disclosure of Information", ("Vendors, consultants, and other service providers",)),
    ("authorities", "Disclosure of Information", ("Public authorities", "national security or law enforcement")),
    ("protect rights", "Disclosure of Information", ("protect the rights, property, and safety of Panasonic",)),
    ("corporate transactions", "Disclosure of Information", ("Parties to a corporate transaction",)),
    ("affiliates", "Disclosure of Information", ("Panasonic parents, affiliates and subsidiaries",)),
    ("at your direction", "Disclosure of Information", ("Recipients you consent to or direct",)),
    ("opt-out lists go to vendors", "Disclosure of Information", ("opt-out lists",)),
    ("disclosed in the past 12 months", "Disclosure of Information",
     ("During the past 12 months", "Advertising partners", "Payment processors", "Platform partners", "Installers",
      "Distributors", "Resellers")),
    ("only aggregate or de-identified data goes out freely", "Disclosure of Information",
     ("aggregated or de-identified information",)),
    ("social sharing features", "Social Sharing Features", ("Social media platforms",)),
    ("analytics", "Third-Party Cookies", ("Google Analytics",)),
]

SALE_AND_COOKIES: list[Row] = [
    ("advertising cookies may be a sale", "Sale of Information and Targeted Advertising",
     ('may be a "sale" of information',)),
    ("no sale or sharing of sensitive data or under 16", "Sale of Information and Targeted Advertising",
     ("We do not sell or share sensitive information or the information of consumers under 16 years of age",)),
    ("Do Not Sell My Data", "Sale of Information and Targeted Advertising", ("Do Not Sell My Data",)),
    ("Do Not Track not supported", "How Can You Control Cookies?", ("do not support Do Not Track",)),
    ("cookie categories", "What Kind of Cookies Do Your Sites Use?",
     ("Essential cookies", "Performance cookies", "Functional cookies", "Advertising cookies",
      "Social media cookies")),
    ("cookie settings", "How Can You Control Cookies?", ("Cookie Settings",)),
]

TRANSFERS_RETENTION_SECURITY: list[Row] = [
    ("transfer to the US", "Transfer of Information to the U. S. and Other Countries",
     ("United States", "contractual safeguards")),
    ("keep only as long as necessary", "Data Retention",
     ("necessary to provide the products and services you have requested",)),
    ("longest live purpose wins", "Data Retention", ("the purpose with the latest period expires",)),
    ("cached or archived copies", "Your Choices", ("cached or archived copies",)),
    ("reasonable security", "Security of Information", ("reasonable and appropriate steps",)),
    ("strong password", "Security of Information", ("strong password",)),
]

RIGHTS: list[Row] = [
    ("access in a portable format", "Your Rights", ("Access a copy of your personal data", "portable")),
    ("know", "Your Rights", ("Know what personal data we collect",)),
    ("deletion", "Your Rights", ("Have your personal data deleted",)),
    ("correction", "Your Rights", ("Have inaccurate personal data corrected",)),
    ("limit sensitive data", "Your Rights", ("Limit the use of your sensitive personal data",)),
    ("opt out of sale and sharing", "Your Rights", ("Opt out of the sale or sharing of your personal data",)),
    ("opt out of profiling", "Your Rights", ("Opt out of profiling",)),
    ("non-discrimination", "Your Rights", ("Not be treated differently for using your rights",)),
    ("appeal", "Your Rights", ("Appeal our decision on your request",)),
    ("requests by email, phone, web form", "Your Rights",
     ("privacy@us.panasonic.com", "(800) 704-1257", "website_url_lnk")),
    ("authorized agents", "Your Rights", (("authorized agent", "authorised agent", "Authorized agent",
                                          "Authorised agent"),)),
]

CHILDREN_CONTACTS: list[Row] = [
    ("services for 18+ only", "Children's Online Privacy", ("at least 18",)),
    ("child under 16", "Children's Online Privacy", ("under the age of 16",)),
    ("privacy contact", "Contact Us", ("privacy@us.panasonic.com", "(800) 704-1257")),
    ("EEA individuals addressed", "Individuals in the European Economic Area", ("European Economic Area",)),
]


@pytest.mark.parametrize("row", SCOPE, ids=ids(SCOPE))
def test_scope_date_and_changes(notice_md: str, row: Row) -> None:
    """S0 introduction ("Privacy Notice", LAST UPDATED July 29, 2024): controller, services, date, archive, changes."""
    check(notice_md, row, SEED)


@pytest.mark.parametrize("row", CATEGORIES, ids=ids(CATEGORIES))
def test_categories(notice_md: str, row: Row) -> None:
    """S0 "Categories of Information We Collect": provided, automatically collected, derived, other sources."""
    check(notice_md, row, SEED)


@pytest.mark.parametrize("row", PURPOSES, ids=ids(PURPOSES))
def test_purposes(notice_md: str, row: Row) -> None:
    """S0 "Our Uses of Information" (16 uses), "Location Information", "Mobile Push Notifications/Alerts"."""
    check(notice_md, row, SEED)


@pytest.mark.parametrize("row", BASES, ids=ids(BASES))
def test_bases_and_opt_outs(notice_md: str, row: Row) -> None:
    """S0 "Legal Basis for Processing" (EEA), the US state section, and "Promotional Communications"."""
    check(notice_md, row, SEED)


@pytest.mark.parametrize("row", RECIPIENTS, ids=ids(RECIPIENTS))
def test_recipients(notice_md: str, row: Row) -> None:
    """S0 "Disclosure of Information" (incl. the past 12 months), "Social Sharing Features", "Third-Party Cookies"."""
    check(notice_md, row, SEED)


@pytest.mark.parametrize("row", SALE_AND_COOKIES, ids=ids(SALE_AND_COOKIES))
def test_sale_and_cookies(notice_md: str, row: Row) -> None:
    """S0 "Sale of Information and Targeted Advertising" and "Cookies and Digital Tracking Technologies"."""
    check(notice_md, row, SEED)


@pytest.mark.parametrize("row", TRANSFERS_RETENTION_SECURITY, ids=ids(TRANSFERS_RETENTION_SECURITY))
def test_transfers_retention_security(notice_md: str, row: Row) -> None:
    """S0 "Transfer of Information to the U. S. and Other Countries", "Data Retention", "Security of Information"."""
    check(notice_md, row, SEED)


@pytest.mark.parametrize("row", RIGHTS, ids=ids(RIGHTS))
def test_rights(notice_md: str, row: Row) -> None:
    """S0 "Your Rights" (residents of California, Colorado, Connecticut, Utah and Virginia) and how to use them."""
    check(notice_md, row, SEED)


@pytest.mark.parametrize("row", CHILDREN_CONTACTS, ids=ids(CHILDREN_CONTACTS))
def test_children_and_contacts(notice_md: str, row: Row) -> None:
    """S0 "Children's Online Privacy", "Individuals in the European Economic Area" and "Contact Us"."""
    check(notice_md, row, SEED)
