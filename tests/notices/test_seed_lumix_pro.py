"""S4 (004_63f6557fef08b1c5.txt), Privacy Policy for Panasonic LUMIX PRO Service, "Wiesbaden
January 2019": what the rendered notice must state.

Each table row is one promise of seed-commitments.md: (promise, seed clause, text fragments the
Markdown notice must contain). A fragment given as a tuple is satisfied by any one of its
alternatives. Whitespace is normalised before matching.
"""

from __future__ import annotations

import pytest

from tests.notices.seed_promises import Row, check, ids, normalised, rendered_markdown

SEED = "004_63f6557fef08b1c5.txt"
INTRO = "Privacy Policy for Panasonic LUMIX PRO Service"
COLLECT = "Which information about you do we collect?"


@pytest.fixture(scope="module")
def notice_md() -> str:
    return normalised(rendered_markdown("lumix-pro"))


SCOPE: list[Row] = [
    ("responsible body", INTRO, ("Panasonic Marketing Europe GmbH", "Hagenauer Str. 43")),
    ("scope: membership of LUMIX PRO", INTRO, ("within the scope of membership of LUMIX PRO",)),
    ("dated January 2019", "Concluding clause", ("January 2019",)),
    ("annex to the March 2018 policy", "Concluding clause", ("Annex 2 to our Privacy Policy dated March 2018",)),
]

CATEGORIES: list[Row] = [
    ("first name", COLLECT, ("First name",)),
    ("date of birth", COLLECT, ("Date of birth",)),
    ("registered cameras and lenses", COLLECT, ("Product registration", "camera models and lenses")),
    ("invoice copies", COLLECT, ("Uploaded copy of the invoices",)),
    ("tier added by the company", COLLECT, ("Red/Silver/Gold/Platinum/Black", "only on invitation by Panasonic")),
    ("membership and internal numbers", COLLECT, ("LUMIX PRO membership number", "internal database number")),
    ("start and expiry dates", COLLECT, ("Start and expiry dates",)),
    ("added by the company", COLLECT, ("Added by us",)),
]

PURPOSES_AND_BASES: list[Row] = [
    ("service provision", "What do we do with your personal information?", ("Provision of the service",)),
    ("service-centre verification", "Transmission of the data", ("Verification by service centres",)),
    ("basis: contract (GDPR Art. 6(1)(b); S4 states none)", "What do we do with your personal information?",
     ("Performance of a contract",)),
]

RECIPIENTS: list[Row] = [
    ("worldwide service centres", "Transmission of the data", ("LUMIX PRO service centres worldwide", "read rights")),
    ("exactly six fields", "Transmission of the data",
     (("first name, surname, membership number, status, range of services, validity",
       "first name; surname; membership number; status; range of services; validity"),)),
    ("to prevent misuse", "Transmission of the data", ("prevent any misuse",)),
]

TRANSFERS_RETENTION_SECURITY: list[Row] = [
    ("ISO 27001 data centres in Europe", "Where do we store your personal information?", ("ISO 27001", "Europe")),
    ("retention until service ends, statute or deletion request", "How do we protect your personal information?",
     ("no longer require them for fulfilling the services", "request their deletion",
      "required by statutory provisions")),
    ("need-to-know access", "How do we protect your personal information?",
     ("those persons who need the information and who are authorised",)),
    ("internet transmissions at own risk", "Transmission of your personal information", ("at your own risk",)),
]

CONTACTS_AND_AUTHORITY: list[Row] = [
    ("data protection officer", INTRO, ("The Data Protection Officer",)),
    ("complaint authority", INTRO,
     ("The Hessian Data Protection Official", "Gustav-Stresemann-Ring 1, 65189 Wiesbaden")),
    ("complaint right", INTRO, ("Complain to a data protection authority",)),
    ("deletion on request", "How do we protect your personal information?", ("Have your personal data deleted",)),
]


@pytest.mark.parametrize("row", SCOPE, ids=ids(SCOPE))
def test_scope_and_date(notice_md: str, row: Row) -> None:
    """S4 "Privacy Policy for Panasonic LUMIX PRO Service" (responsible body) and "Concluding clause"."""
    check(notice_md, row, SEED)


@pytest.mark.parametrize("row", CATEGORIES, ids=ids(CATEGORIES))
def test_categories(notice_md: str, row: Row) -> None:
    """S4 "Which information about you do we collect?" (collected, and added by Panasonic)."""
    check(notice_md, row, SEED)


@pytest.mark.parametrize("row", PURPOSES_AND_BASES, ids=ids(PURPOSES_AND_BASES))
def test_purposes_and_bases(notice_md: str, row: Row) -> None:
    """S4 "What do we do with your personal information?" and "Transmission of the data"."""
    check(notice_md, row, SEED)


@pytest.mark.parametrize("row", RECIPIENTS, ids=ids(RECIPIENTS))
def test_service_centres(notice_md: str, row: Row) -> None:
    """S4 "Transmission of the data": worldwide service centres read exactly six fields."""
    check(notice_md, row, SEED)


@pytest.mark.parametrize("row", TRANSFERS_RETENTION_SECURITY, ids=ids(TRANSFERS_RETENTION_SECURITY))
def test_storage_retention_security(notice_md: str, row: Row) -> None:
    """S4 "Where do we store ...", "How do we protect ...", "Transmission of your personal information"."""
    check(notice_md, row, SEED)


@pytest.mark.parametrize("row", CONTACTS_AND_AUTHORITY, ids=ids(CONTACTS_AND_AUTHORITY))
def test_contacts_and_complaint_authority(notice_md: str, row: Row) -> None:
    """S4 "Privacy Policy for Panasonic LUMIX PRO Service": DPO and the data protection authority for complaints."""
    check(notice_md, row, SEED)
