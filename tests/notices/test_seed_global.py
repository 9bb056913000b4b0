"""S1 (001_cbab263f9514547f.txt), Panasonic global websites, last modified 2018-05-22: what the
rendered notice must state.

Each table row is one promise of seed-commitments.md: (promise, seed clause, text fragments the
Markdown notice must contain). S1's stored text keeps few headings, so a clause without one is
named by its opening words. A fragment given as a tuple is satisfied by any one of its
alternatives. Whitespace is normalised before matching.
"""

from __future__ import annotations

import pytest

from tests.notices.seed_promises import Row, check, ids, normalised, rendered_markdown

SEED = "001_cbab263f9514547f.txt"
PURPOSES_CLAUSE = '"We may use the Personal Information we collect for the following purposes"'
PROVIDED = "A. Personal Information you provide directly about yourself"
USE_OF_WEBSITES = "B. Information about your use of the Websites"
RETAIN_CLAUSE = '"We will retain your Personal Information for the period necessary"'
GROUNDS_CLAUSE = '"We are not allowed to process Personal Information if we cannot rely on a valid legal ground"'


@pytest.fixture(scope="module")
def notice_md() -> str:
    return normalised(rendered_markdown("global"))


SCOPE: list[Row] = [
    ("controller", "Privacy Policy - Panasonic", ("Panasonic Corporation",)),
    ("last modified", "Privacy Policy - Panasonic (Last modified)", (("22 May 2018", "May 22, 2018", "2018-05-22"),)),
    ("websites covered", "Privacy Policy - Panasonic", ("www.panasonic.com/global",)),
    ("individual services have their own notices", "Privacy Policy - Panasonic",
     ("their own privacy policies or notices",)),
    ("changes", '"Panasonic may change this Privacy Policy from time to time"', ("Last modified",)),
]

CATEGORIES: list[Row] = [
    ("contact", f"{PROVIDED} 1", ("Contact information", "contact preferences")),
    ("products owned", f"{PROVIDED} 1",
     ("Panasonic products and devices you own", "serial numbers")),
    ("diagnostic logs", f"{PROVIDED} 1", ("Diagnostic logs and reports",)),
    ("subscriptions", f"{PROVIDED} 2", ("Subscription information",)),
    ("device", f"{USE_OF_WEBSITES} 1", ("Product/device information", "IP address")),
    ("log", f"{USE_OF_WEBSITES} 2", ("Log information", "search query terms")),
]

PURPOSES: list[Row] = [
    ("purpose 1", f"{PURPOSES_CLAUSE} 1", ("Create an Account/Log in on our Websites",)),
    ("purpose 2", f"{PURPOSES_CLAUSE} 2", ("Registering products/devices",)),
    ("purpose 3", f"{PURPOSES_CLAUSE} 3", ("Provide our Services",)),
    ("purpose 4", f"{PURPOSES_CLAUSE} 4", ("Surveys",)),
    ("purpose 5", f"{PURPOSES_CLAUSE} 5", ("Advertising",)),
    ("purpose 6", f"{PURPOSES_CLAUSE} 6", ("Analysis Purposes",)),
    ("purpose 7", f"{PURPOSES_CLAUSE} 7", ("Statistics",)),
    ("purpose 8", f"{PURPOSES_CLAUSE} 8", ("Service Improvement",)),
    ("purpose 9", f"{PURPOSES_CLAUSE} 9", ("Customer Support Services",)),
    ("purpose 10", f"{PURPOSES_CLAUSE} 10", ("Security",)),
    ("purpose 11", f"{PURPOSES_CLAUSE} 11", ("Updates",)),
    ("purpose 12", f"{PURPOSES_CLAUSE} 12", ("Corporate Transaction",)),
]

BASES: list[Row] = [
    ("consent", f"{GROUNDS_CLAUSE} 1", ("Consent",)),
    ("contract", f"{GROUNDS_CLAUSE} 2", ("Performance of a contract",)),
    ("legitimate interests", f"{GROUNDS_CLAUSE} 5", ("Legitimate interests",)),
    ("grounds listed", GROUNDS_CLAUSE, ("vital interests", "legal or regulatory obligations")),
    ("subscriptions only on express request", f"{PROVIDED} 2",
     ("where you have expressly requested us to do so",)),
    ("consent withdrawable without affecting earlier processing", "1. What are your rights?",
     ("without affecting the lawfulness of the processing prior to such withdrawal",)),
]

RECIPIENTS: list[Row] = [
    ("affiliates", "A. Third party recipients of the Personal Information 1", ("Panasonic Affiliates",)),
    ("service providers on instructions", "A. Third party recipients of the Personal Information 2",
     ("Service Providers", "in accordance with our instructions")),
    ("law and protection", "A. Third party recipients of the Personal Information 3",
     ("Third parties when required by Law or to Protect our Websites",)),
    ("corporate transactions", "A. Third party recipients of the Personal Information 4",
     ("Other Parties in Connection With Corporate Transactions",)),
    ("with consent or at your direction", "A. Third party recipients of the Personal Information 5",
     ("Other Parties With Your Consent or At Your Direction",)),
    ("no third-party marketing without consent", '"We will not disclose your Personal Information to third parties"',
     ("for their own independent marketing or business purposes without your consent",)),
    ("only anonymised statistics shared", f"{PURPOSES_CLAUSE} 7", ("anonymous, aggregated statistics",)),
]

TRANSFERS_RETENTION_SECURITY: list[Row] = [
    ("transfer to Japan and elsewhere", "B. International Transfer of Personal Information",
     ("Japan", "maintain facilities")),
    ("suitable safeguards", "B. International Transfer of Personal Information",
     ("suitable safeguards such as appropriate agreements and mechanisms",)),
    ("retention: purpose, longer if law requires", RETAIN_CLAUSE,
     ("no longer required for the purpose it was collected", "unless a longer retention period is required by law")),
    ("security measures", '"Panasonic have put in place appropriate physical, technical and organisational measures"',
     ("state of the art", "accidental or unlawful destruction")),
    ("cookies", '"This Websites uses cookies"', ("Functional cookies", "Performance cookies")),
]

RIGHTS: list[Row] = [
    ("access", "1. What are your rights?", ("Access a copy of your personal data",)),
    ("rectification", "1. What are your rights?", ("Have inaccurate personal data corrected",)),
    ("objection", "1. What are your rights?", ("Object to how we use your personal data",)),
    ("erasure", "1. What are your rights?", ("Have your personal data deleted",)),
    ("withdraw consent", "1. What are your rights?", ("Withdraw your consent at any time",)),
    ("portability", "1. What are your rights?", ("Receive your data in a portable format",)),
    ("complaint", "3. Complaints", ("Complain to a data protection authority",)),
    ("how to exercise", "2. Exercising your rights",
     ("communication means described in the individual privacy policy",)),
]

CHILDREN_CONTACTS: list[Row] = [
    ("child under 16", '"Panasonic considers a child to by anyone under the age of 16"', ("under the age of 16",)),
    ("parental consent", '"Panasonic considers a child to by anyone under the age of 16"',
     ("consent of a parent or guardian",)),
    ("postal contact", '"If you have any questions regarding this Privacy Policy"',
     ("1006, Oaza Kadoma, Kadoma-shi, Osaka 571-8501, Japan",)),
    ("EEA representative", "< For residents of EEA>",
     ("Panasonic Marketing Europe GmbH", "Hagenauer Strasse 43, 65203 Wiesbaden")),
    ("complaint authority", "3. Complaints", ("competent supervisory authority",)),
]


@pytest.mark.parametrize("row", SCOPE, ids=ids(SCOPE))
def test_scope_date_and_changes(notice_md: str, row: Row) -> None:
    """S1 introduction ("Privacy Policy - Panasonic", Last modified May 22, 2018) and the changes clause."""
    check(notice_md, row, SEED)


@pytest.mark.parametrize("row", CATEGORIES, ids=ids(CATEGORIES))
def test_categories(notice_md: str, row: Row) -> None:
    """S1 "A. Personal Information you provide directly about yourself" and
    "B. Information about your use of the Websites"."""
    check(notice_md, row, SEED)


@pytest.mark.parametrize("row", PURPOSES, ids=ids(PURPOSES))
def test_purposes(notice_md: str, row: Row) -> None:
    """S1 "We may use the Personal Information we collect for the following purposes" 1-12."""
    check(notice_md, row, SEED)


@pytest.mark.parametrize("row", BASES, ids=ids(BASES))
def test_bases(notice_md: str, row: Row) -> None:
    """S1 "We are not allowed to process Personal Information if we cannot rely on a valid legal ground" 1-5."""
    check(notice_md, row, SEED)


@pytest.mark.parametrize("row", RECIPIENTS, ids=ids(RECIPIENTS))
def test_recipients(notice_md: str, row: Row) -> None:
    """S1 "A. Third party recipients of the Personal Information" and the no-third-party-marketing promise."""
    check(notice_md, row, SEED)


@pytest.mark.parametrize("row", TRANSFERS_RETENTION_SECURITY, ids=ids(TRANSFERS_RETENTION_SECURITY))
def test_transfers_retention_security(notice_md: str, row: Row) -> None:
    """S1 "B. International Transfer of Personal Information", the retention, security and cookies clauses."""
    check(notice_md, row, SEED)


@pytest.mark.parametrize("row", RIGHTS, ids=ids(RIGHTS))
def test_rights(notice_md: str, row: Row) -> None:
    """S1 "1. What are your rights?", "2. Exercising your rights", "3. Complaints"."""
    check(notice_md, row, SEED)


@pytest.mark.parametrize("row", CHILDREN_CONTACTS, ids=ids(CHILDREN_CONTACTS))
def test_children_contacts_and_authority(notice_md: str, row: Row) -> None:
    """S1 children clause, contact by mail, "< For residents of EEA>" and "3. Complaints"."""
    check(notice_md, row, SEED)
