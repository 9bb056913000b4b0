"""S3 (003_7293f6a511e294b4.txt), Privacy Policy - Panasonic UK & Ireland, 2018, and its Smart Home
annex (§15, the notice ``uk-smart-home``): what the rendered notices must state.

Each table row is one promise of seed-commitments.md: (promise, seed clause, text fragments the
Markdown notice must contain). A fragment given as a tuple is satisfied by any one of its
alternatives. Whitespace is normalised before matching. Category rows (§3) must be stated on one
line of the Markdown (one table row); every row of a purpose in the basis table must carry the
purpose's legal basis.
"""

from __future__ import annotations

import pytest

from tests.notices.seed_promises import Row, check, check_together, ids, lines, normalised, rendered_markdown

SEED = "003_7293f6a511e294b4.txt"

CONTACT_URL = "https://www.panasonic.com/uk/contact-us.html"
CONSENT = "Consent"
CONTRACT = "Performance of a contract"
LEGITIMATE_INTERESTS = "Legitimate interests"
LEGAL_OBLIGATION = "Legal obligation"


@pytest.fixture(scope="module")
def uk_md() -> str:
    return normalised(rendered_markdown("uk"))


@pytest.fixture(scope="module")
def uk_lines() -> list[str]:
    return lines(rendered_markdown("uk"))


@pytest.fixture(scope="module")
def smart_home_md() -> str:
    return normalised(rendered_markdown("uk-smart-home"))


@pytest.fixture(scope="module")
def smart_home_lines() -> list[str]:
    return lines(rendered_markdown("uk-smart-home"))


def _check_basis(lines: list[str], purpose: str, basis: str, clause: str) -> None:
    rows = [line for line in lines if line.startswith(f"| {purpose} |")]
    assert rows, f"{purpose} [{SEED}#{clause}]: not in the table of purposes and legal bases"
    wrong = [line for line in rows if not line.rstrip(" |").endswith(basis)]
    assert not wrong, f"{purpose} [{SEED}#{clause}]: legal basis is not {basis!r} in {wrong}"


# --- the UK & Ireland notice --------------------------------------------------------------------

SCOPE: list[Row] = [
    ("controller: Panasonic UK, a branch of PME", "1", ("Panasonic UK, a branch of Panasonic Marketing Europe GmbH",)),
    ("part of Panasonic Corporation, Kadoma", "1", ("part of the Panasonic Corporation", "Kadoma")),
    ("affiliates listed", "1", ("group-companies.html",)),
    ("last updated March 2018", "Date last updated", ("March 2018",)),
    ("services covered", "3A-I", ("My Panasonic", "Panasonic Direct", "Lumix G Experience", "Ex-Demo")),
    ("what personal information is", "2", ("identified or identifiable individual",)),
    ("only on a valid legal ground", "4", ("valid legal ground",)),
    ("third-party links", "10", ("not operated by Panasonic",)),
    ("cookies", "11", ("Cookie Policy", "refuse them altogether")),
]

# §3 A-C: category, examples, how it is collected — on one line.
CATEGORIES: list[Row] = [
    ("account", "3A-I", ("Panasonic account data", "date of birth", "country of residence", "From you directly")),
    ("online purchase", "3A-I", ("Online purchase data", "mailing address", "From you directly")),
    ("product registration", "3A-II", ("Product registration data", "date of purchase", "From you directly")),
    ("customer support contacts", "3A-III", ("Customer support contacts", "contact preferences", "From you directly")),
    ("call recordings", "3A-III", ("Recordings of conversations with customer support", "From you directly")),
    ("community postings", "3A-IV", ("Community Postings", "username", "From you directly")),
    ("promotions", "3A-V", ("Promotions, games, prize draws and competitions", "cash back", "From you directly")),
    ("newsletters", "3A-VI", ("Subscriptions and newsletters", "gender", "From you directly")),
    ("uploads", "3A-VII", ("Uploaded content", "videos or photos", "From you directly")),
    ("device", "3B-I", ("Device/product information", "MAC address", "IP address", "Automatically")),
    ("log", "3B-II", ("Log information", "search query terms", "Automatically")),
    ("location", "3B-III", ("Location information", "GPS signal", "Automatically")),
    ("voice", "3B-IV", ("Voice information", "voice commands", "Automatically")),
    ("other usage", "3B-V", ("Other information about your use of the Services", "websites you visit",
                             "Automatically")),
    ("public sources", "3C-I", ("Information from publicly available sources", "From third parties")),
    ("social login", "3C-II", ("Social media login information", "profile picture", "time zone",
                               "From third parties")),
    ("retailers and service centres", "3C-III", ("Information from retailers and service centres",
                                                 "From third parties")),
]

COLLECTION_PROMISES: list[Row] = [
    ("card numbers never stored; a payment processor handles them", "3A-I",
     ("We do not view and store your payment card information", "Worldpay")),
    ("call recordings only where permitted and announced", "3A-III",
     ("where we are permitted to do so by applicable laws", "at the start of the conversation at the latest")),
    ("location only with consent, withdrawable in device settings", "3B-III",
     ("asked to consent", "altering the settings in your device/product")),
    ("social network as controller", "3C-II", ("collected by the social network, as data controller",)),
]

# §5 I-XXI (and §3B-III): purpose -> legal basis, as encoded (see notices/uk.yaml on how bases are read).
PURPOSES: list[tuple[str, str, str]] = [
    ("Create an Account/Log in on our Websites or Applications", CONTRACT, "5-I"),
    ("Registering products/devices", CONTRACT, "5-II"),
    ("Online Purchases", CONTRACT, "5-III"),
    ("Provide our Services", CONTRACT, "5-IV"),
    ("Surveys", LEGITIMATE_INTERESTS, "5-V"),
    ("Customised and Targeting Content", CONSENT, "5-VI"),
    ("Marketing activities", CONSENT, "5-VII"),
    ("Profiling", CONSENT, "5-VIII"),
    ("Advertising", CONSENT, "5-IX"),
    ("Analysis Purposes", LEGITIMATE_INTERESTS, "5-X"),
    ("Statistics", LEGITIMATE_INTERESTS, "5-XI"),
    ("Service Improvement", LEGITIMATE_INTERESTS, "5-XII"),
    ("Customer Support Services", CONTRACT, "5-XIII"),
    ("Business Purposes", LEGITIMATE_INTERESTS, "5-XIV"),
    ("Publish your comments", LEGITIMATE_INTERESTS, "5-XV"),
    ("Security", LEGITIMATE_INTERESTS, "5-XVI"),
    ("Legal Obligations", LEGAL_OBLIGATION, "5-XVII"),
    ("Competitions and Promotions", CONTRACT, "5-XVIII"),
    ("Training", LEGITIMATE_INTERESTS, "5-XIX"),
    ("Updates", CONTRACT, "5-XX"),
    ("Corporate Transaction", LEGITIMATE_INTERESTS, "5-XXI"),
    ("Location-enabled Services", CONSENT, "3B-III"),
]

MARKETING: list[Row] = [
    ("channels post, email, phone, SMS", "5-VII, 12", ("post", "email", "telephone", "SMS")),
    ("marketing only with consent", "5-VII", ("only if you have provided your consent",)),
    ("opt-in at purchase, support, account, subscription", "12",
     ("When you purchase Panasonic products or devices", "contact our customer support representatives",
      "create an account or profile", "opportunity to opt-in")),
    ("opt out in My Panasonic Account", "12", ("My Panasonic Account",)),
    ("opt out by Unsubscribe", "12", ("Unsubscribe",)),
]

RECIPIENTS: list[Row] = [
    ("I. Panasonic Affiliates", "6A-I", ("Panasonic Affiliates",)),
    ("II. Selected Partners incl. wireless carriers", "6A-II", ("Selected Partners", "wireless carriers")),
    ("III. Service Providers on instructions", "6A-III", ("Service Providers", "in accordance with our instructions")),
    ("III-a. Eloqua by Oracle", "6A-III-a", ("Eloqua by Oracle",)),
    ("III-b. Google Analytics", "6A-III-b", ("Google Analytics",)),
    ("III-c. Power Reviews", "6A-III-c", ("Power Reviews",)),
    ("payment processor Worldpay", "3A-I, 7B", ("Worldpay",)),
    ("IV. Social Network Providers by marketing preferences", "6A-IV",
     ("Social Network Providers", "in accordance with your marketing preferences")),
    ("V. law and protection", "6A-V", ("Third parties when required by Law or to Protect our Services",)),
    ("VI. only anonymous statistics go out freely", "6A-VI", ("Anonymous, aggregate or generic data",)),
    ("VII. with consent or at your direction", "6A-VII", ("Other Parties With Your Consent or At Your Direction",)),
    ("partners and sponsors of Activities", "5-XVIII", ("Partners and sponsors of Activities",)),
    ("no third-party marketing without consent", "6",
     ("will not disclose your Personal Information to third parties for their own independent marketing",)),
    ("no sharing for third parties' marketing", "12",
     ("We do not share Personal Information with third parties for the third parties' marketing purposes",)),
]

TRANSFERS: list[Row] = [
    ("outside the EEA incl. Canada and Japan", "6B", ("Canada", "Japan", "outside the EEA")),
    ("EU Model Clauses", "6B", ("EU Model Clauses",)),
    ("copy of the safeguards on request", "6B", ("obtain a copy of the relevant safeguards upon request",)),
]

RETENTION: list[Row] = [
    ("only as long as the purposes need", "9", ("period necessary to fulfil the purposes",)),
    ("longer when law requires", "9", ("longer retention period is required by law",)),
    ("then deleted and/or returned", "9", ("deleted and/or returned to you",)),
]

SECURITY: list[Row] = [
    ("appropriate measures", "7A", ("appropriate physical and technical measures",)),
    ("no guarantee", "7A", ("cannot guarantee the security",)),
    ("payments encrypted", "7B", ("Secured Sockets Layer",)),
    ("passwords kept confidential", "7B", ("keeping this password confidential",)),
    ("ISM, ISO 27001 and PDCA over the lifecycle", "7C",
     ("Information Security Management", "ISO 27001", "PDCA", "from collection to destruction")),
    ("caution in social features", "7D", ("social networking, chat room or forum features",)),
]

RIGHTS: list[Row] = [
    ("access", "8A", ("Access a copy of your personal data",)),
    ("rectification", "8A", ("Have inaccurate personal data corrected",)),
    ("objection", "8A", ("Object to how we use your personal data",)),
    ("erasure", "8A", ("Have your personal data deleted",)),
    ("withdraw consent", "8A", ("Withdraw your consent at any time",)),
    ("portability", "8A", ("portable format",)),
    ("block (restriction)", "16", ("Restrict how we use your personal data",)),
    ("requests through Contact Us", "8B, 16", (CONTACT_URL,)),
    ("complaint to the competent supervisory authority", "8C",
     ("Complain to a data protection authority", "competent supervisory authority")),
]

CHILDREN: list[Row] = [
    ("a child is under 13", "13-I", ("under the age of 13",)),
    ("verified parental consent", "13-II", ("consent of a parent or guardian",)),
    ("without consent: delete", "13-III", ("delete that Personal Information as soon as possible",)),
    ("else block all use and disclosure", "13-III",
     ("not used for any purpose, nor disclosed further to any third party",)),
    ("parent or guardian queries", "13-IV", ("parent or guardian queries",)),
]

CHANGES: list[Row] = [
    ("effective on posting", "14", ("effective upon our posting of the revised Privacy Notice",)),
    ("notice of material changes, consent where required", "14",
     ("notice to you if these changes are material", "we will obtain your consent")),
]

CONTACTS: list[Row] = [
    ("Contact Us / Further Information", "16", (CONTACT_URL,)),
]


@pytest.mark.parametrize("row", SCOPE, ids=ids(SCOPE))
def test_scope(uk_md: str, row: Row) -> None:
    """§1 Who are we?, §2, §4, §10, §11 and the date last updated."""
    check(uk_md, row, SEED)


@pytest.mark.parametrize("row", CATEGORIES, ids=ids(CATEGORIES))
def test_categories(uk_lines: list[str], row: Row) -> None:
    """§3A (you provide), §3B (collected through your use), §3C (third party sources)."""
    check_together(uk_lines, row, SEED)


@pytest.mark.parametrize("row", COLLECTION_PROMISES, ids=ids(COLLECTION_PROMISES))
def test_collection_promises(uk_md: str, row: Row) -> None:
    """§3A-I (card data via Worldpay), §3A-III (call recordings), §3B-III (location), §3C-II."""
    check(uk_md, row, SEED)


@pytest.mark.parametrize(("purpose", "basis", "clause"), PURPOSES, ids=[p[0] for p in PURPOSES])
def test_purposes_with_bases(uk_lines: list[str], purpose: str, basis: str, clause: str) -> None:
    """§5 I-XXI (and §3B-III location): each purpose with its legal basis (§4)."""
    _check_basis(uk_lines, purpose, basis, clause)


def test_twenty_one_purposes(uk_lines: list[str]) -> None:
    """§5: the 21 purposes, plus the location-enabled Services of §3B-III."""
    assert len(PURPOSES) == 22
    headings = [line for line in uk_lines if line.startswith("### ")]
    for purpose, _, clause in PURPOSES:
        assert f"### {purpose}" in headings, f"{purpose} [{SEED}#{clause}] has no section in the notice"


@pytest.mark.parametrize("row", MARKETING, ids=ids(MARKETING))
def test_marketing(uk_md: str, row: Row) -> None:
    """§5-VII and §12 Your Choices: channels, opt-in, opt-out."""
    check(uk_md, row, SEED)


@pytest.mark.parametrize("row", RECIPIENTS, ids=ids(RECIPIENTS))
def test_recipients(uk_md: str, row: Row) -> None:
    """§6A I-VII To whom do we disclose your Personal Information?, §5-XVIII, §12."""
    check(uk_md, row, SEED)


@pytest.mark.parametrize("row", TRANSFERS, ids=ids(TRANSFERS))
def test_transfers(uk_md: str, row: Row) -> None:
    """§6B International Transfer of Data."""
    check(uk_md, row, SEED)


@pytest.mark.parametrize("row", RETENTION, ids=ids(RETENTION))
def test_retention(uk_md: str, row: Row) -> None:
    """§9 Data Retention."""
    check(uk_md, row, SEED)


@pytest.mark.parametrize("row", SECURITY, ids=ids(SECURITY))
def test_security(uk_md: str, row: Row) -> None:
    """§7 A-D What do we do to keep your Personal Information secure?"""
    check(uk_md, row, SEED)


@pytest.mark.parametrize("row", RIGHTS, ids=ids(RIGHTS))
def test_rights(uk_md: str, row: Row) -> None:
    """§8 A-C What are your rights and how can you exercise them?, §16."""
    check(uk_md, row, SEED)


@pytest.mark.parametrize("row", CHILDREN, ids=ids(CHILDREN))
def test_children(uk_md: str, row: Row) -> None:
    """§13 Children's Personal Information (under 13)."""
    check(uk_md, row, SEED)


@pytest.mark.parametrize("row", CHANGES, ids=ids(CHANGES))
def test_changes(uk_md: str, row: Row) -> None:
    """§14 Changes to this Privacy Notice."""
    check(uk_md, row, SEED)


@pytest.mark.parametrize("row", CONTACTS, ids=ids(CONTACTS))
def test_contacts(uk_md: str, row: Row) -> None:
    """§16 Contact Us / Further Information."""
    check(uk_md, row, SEED)


# --- §15 Panasonic Privacy Policy for Smart Home products in the EU -----------------------------

SMART_HOME: list[Row] = [
    ("responsible body: Panasonic System Networks, Fukuoka", "15",
     ("Panasonic System Networks Co., Ltd.", "Hakata-ku, Fukuoka 812-8531")),
    ("scope: data transmitted for connectivity", "15", ("establishing connectivity",)),
    ("local connection: nothing collected", "15", ("no data is collected or transferred to third parties",)),
    ("IP address, temporarily, for a server in Europe", "15", ("temporarily", "IP address", "server in Europe")),
    ("MAC address of the base station", "15", ("MAC address of the base station",)),
    ("software version", "15", ("software version",)),
    ("Allianz Assist Service", "15 (Sharing of data)", ("Allianz Assist Service", "fulfilment of the contract")),
    ("ISO 27001 data centres in Europe or Japan", "15", ("certified data centers (ISO 27001) in Europe or Japan",)),
    ("need-to-know access", "15", ("restrict access to such information to those persons who need the information",)),
    ("kept until no longer needed or deletion wished", "15", ("fulfill the services, or you wish for deletion",)),
    ("Internet transmissions at your own risk", "15", ("all Internet transmissions are at your own risk",)),
    ("European contact: PME data protection officer", "15",
     ("Panasonic Marketing Europe GmbH, The data protection officer", "Hagenauerstrasse 43", "D-65203 Wiesbaden",
      "datenschutz@eu.panasonic.com")),
    ("complaints: Hessian Data Protection Commissioner", "15",
     ("The Hessian Data Protection Commissioner", "Gustav-Stresemann-Ring 1", "65189 Wiesbaden",
      "poststelle@datenschutz.hessen.de")),
]

SMART_HOME_PURPOSES: list[tuple[str, str, str]] = [
    ("Connectivity", CONTRACT, "15"),
    ("Security and integrity", LEGITIMATE_INTERESTS, "15"),
    ("Device configuration", CONTRACT, "15"),
    ("Software update", CONTRACT, "15"),
]


@pytest.mark.parametrize("row", SMART_HOME, ids=ids(SMART_HOME))
def test_smart_home_annex(smart_home_md: str, row: Row) -> None:
    """§15 Smart Home products in the EU: controller, data, sharing, storage, protection, contacts."""
    check(smart_home_md, row, SEED)


@pytest.mark.parametrize(("purpose", "basis", "clause"), SMART_HOME_PURPOSES, ids=[p[0] for p in SMART_HOME_PURPOSES])
def test_smart_home_purposes(smart_home_lines: list[str], purpose: str, basis: str, clause: str) -> None:
    """§15 What do we do with your personal information?: connectivity, security, configuration, updates."""
    _check_basis(smart_home_lines, purpose, basis, clause)
