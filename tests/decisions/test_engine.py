"""Every rule of the single decision, each proven against the seed clause it comes from.

S0..S4 are the seed notices (see shared/seed-commitments.md): S0 Panasonic North America, S1 global
websites, S2 SmartApp+ (with its Thai appendix), S3 UK & Ireland, S4 LUMIX PRO.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from pledge.decisions import (
    ConsentState,
    ConsentStatus,
    Decision,
    DecisionAsk,
    Outcome,
    Rule,
    SubjectState,
    UnknownReferenceError,
    decide,
)
from pledge.decisions.engine import age_cutoff
from pledge.policy import CompiledPolicy
from pledge.policy.models import LegalBasis, MarketingChannel
from tests.decisions.conftest import AT


def ask(purpose: str, notice: str = "app", **options: Any) -> DecisionAsk:
    return DecisionAsk(purpose=purpose, notice=notice, at=options.pop("at", AT), **options)


def rules(decision: Decision) -> list[Rule]:
    return [reason.rule for reason in decision.reasons]


def years_ago(years: int, days: int = 0) -> dt.date:
    """A birth date ``years`` years before AT, shifted by ``days`` (positive: younger)."""
    return age_cutoff(AT.date(), years) + dt.timedelta(days=days)


def granted(*keys: tuple[str, str], expires_at: dt.datetime | None = None) -> dict[tuple[str, str], ConsentState]:
    return {key: ConsentState(ConsentStatus.GRANTED, expires_at) for key in keys}


# --- legal basis -----------------------------------------------------------------------------------


def test_purpose_without_a_legal_basis_in_the_jurisdiction_is_refused(policy: CompiledPolicy) -> None:
    """Every processing activity has a legal basis, per jurisdiction [S2 §4 table, S1 'legal basis'].

    The survey has a basis (consent) in the EEA only: in the UK it is refused, citing the purpose.
    """
    decision = decide(policy, SubjectState(jurisdiction="GB"), ask("survey"))
    assert not decision.allowed
    assert decision.outcome is Outcome.REFUSED
    assert decision.legal_basis is None
    assert rules(decision) == [Rule.NO_LEGAL_BASIS]
    assert decision.reasons[0].source == policy.purposes[("app", "survey")].source


def test_the_same_purpose_has_the_basis_of_its_jurisdiction(policy: CompiledPolicy) -> None:
    """Marketing is consent in the EEA, legitimate interests in the UK, contract elsewhere [S2 §4, S3 §4, S0 EEA]."""
    eea = decide(policy, SubjectState(jurisdiction="DE", consents=granted(("app", "marketing"))), ask("marketing"))
    gb = decide(policy, SubjectState(jurisdiction="GB"), ask("marketing"))
    vn = decide(policy, SubjectState(jurisdiction="VN"), ask("marketing"))
    assert (eea.legal_basis, eea.jurisdiction) == (LegalBasis.CONSENT, "EEA")
    assert (gb.legal_basis, gb.jurisdiction) == (LegalBasis.LEGITIMATE_INTERESTS, "GB")
    assert (vn.legal_basis, vn.jurisdiction) == (LegalBasis.CONTRACT, "default")
    assert eea.allowed and gb.allowed and vn.allowed
    assert rules(eea) == [Rule.LEGAL_BASIS, Rule.LIVE_CONSENT]
    assert rules(gb) == [Rule.LEGAL_BASIS]


def test_ask_jurisdiction_overrides_the_residence(policy: CompiledPolicy) -> None:
    """A decision is taken under the law the ask names, else the person's residence [S0 EEA note]."""
    state = SubjectState(jurisdiction="GB")
    assert decide(policy, state, ask("survey", jurisdiction="FR")).legal_basis is LegalBasis.CONSENT


# --- consent -----------------------------------------------------------------------------------------


def test_consent_purpose_never_consented_to_needs_consent(policy: CompiledPolicy) -> None:
    """Consent is asked separately before processing that relies on it [S1, S2 §4, S3 §12 opt-in]."""
    decision = decide(policy, SubjectState(jurisdiction="DE"), ask("wellness"))
    assert not decision.allowed
    assert decision.outcome is Outcome.CONSENT_REQUIRED
    assert decision.legal_basis is LegalBasis.CONSENT
    assert rules(decision) == [Rule.NO_LIVE_CONSENT]
    assert "never given" in decision.reasons[0].detail


def test_withdrawn_consent_stops_marketing_email(policy: CompiledPolicy) -> None:
    """Consent can be withdrawn at any time [S1; S2 §7; S0 EEA 'you may withdraw such consent at any time']."""
    state = SubjectState(jurisdiction="IE", consents={("app", "marketing"): ConsentState(ConsentStatus.WITHDRAWN)})
    decision = decide(policy, state, ask("marketing", channel=MarketingChannel.EMAIL))
    assert not decision.allowed
    assert rules(decision) == [Rule.NO_LIVE_CONSENT]
    assert "withdrawn" in decision.reasons[0].detail


def test_denied_consent_is_not_consent(policy: CompiledPolicy) -> None:
    """Consent must be given; a refusal is recorded and respected [S1 'consent is asked separately']."""
    state = SubjectState(jurisdiction="DE", consents={("app", "wellness"): ConsentState(ConsentStatus.DENIED)})
    decision = decide(policy, state, ask("wellness"))
    assert rules(decision) == [Rule.NO_LIVE_CONSENT]
    assert "denied" in decision.reasons[0].detail


def test_expired_consent_is_not_live(policy: CompiledPolicy) -> None:
    """A consent with an expiry stops at it [S1, S2 §7: consent is the basis only while it lasts]."""
    key = ("app", "wellness")
    expired = SubjectState(jurisdiction="DE", consents=granted(key, expires_at=AT))
    live = SubjectState(jurisdiction="DE", consents=granted(key, expires_at=AT + dt.timedelta(seconds=1)))
    decision = decide(policy, expired, ask("wellness"))
    assert rules(decision) == [Rule.NO_LIVE_CONSENT]
    assert decision.outcome is Outcome.CONSENT_REQUIRED
    assert "expired" in decision.reasons[0].detail
    assert decide(policy, live, ask("wellness")).allowed


def test_consent_to_one_notice_does_not_cover_another(policy: CompiledPolicy) -> None:
    """A purpose's basis belongs to the pair (notice, purpose) [S1 intro, S2 §1, S3 §1: each notice its own scope]."""
    state = SubjectState(jurisdiction="DE", consents=granted(("other", "wellness")))
    assert not decide(policy, state, ask("wellness")).allowed


# --- objection -----------------------------------------------------------------------------------


def test_objection_stops_a_legitimate_interest_purpose(policy: CompiledPolicy) -> None:
    """The right to object to processing on legitimate interests [S2 §7, S3 §8, S0 'Individuals in the EEA']."""
    state = SubjectState(jurisdiction="DE", objections=frozenset({("app", "improve")}))
    decision = decide(policy, state, ask("improve"))
    assert not decision.allowed
    assert rules(decision) == [Rule.OBJECTION]
    assert decision.reasons[0].source == "GDPR Art. 21"


def test_thai_objection_cites_the_thai_appendix(policy: CompiledPolicy) -> None:
    """Thai residents may object to collection, use or disclosure at any time [S2 Thai §4(4)]."""
    state = SubjectState(jurisdiction="TH", objections=frozenset({("app", "legal-claims")}))
    decision = decide(policy, state, ask("legal-claims"))
    assert rules(decision) == [Rule.OBJECTION]
    assert decision.reasons[0].source == "002_9e508a21e3d0ba23.txt#Thai 4(4)"


def test_objection_is_no_ground_against_a_contract_purpose(policy: CompiledPolicy) -> None:
    """Objection applies to legitimate-interest processing (GDPR Art. 21(1)), not to the contract [S2 §4]."""
    state = SubjectState(jurisdiction="DE", objections=frozenset({("app", "provide")}))
    assert decide(policy, state, ask("provide")).allowed


def test_marketing_objection_stops_marketing_even_on_contract(policy: CompiledPolicy) -> None:
    """'If you object ... for marketing purposes, we shall stop processing ... for those purposes' [S2 §7].

    S2 puts marketing on the contract; the objection to direct marketing still stops it.
    """
    state = SubjectState(jurisdiction="VN", objects_to_marketing=True)
    decision = decide(policy, state, ask("marketing"))
    assert decision.legal_basis is LegalBasis.CONTRACT
    assert rules(decision) == [Rule.MARKETING_OBJECTION]
    assert decide(policy, state, ask("provide")).allowed


def test_objection_to_the_marketing_purpose_itself_stops_it(policy: CompiledPolicy) -> None:
    """An objection to a direct-marketing purpose is absolute, whatever its basis [S2 §7; GDPR Art. 21(3)]."""
    state = SubjectState(jurisdiction="VN", objections=frozenset({("app", "marketing")}))
    assert rules(decide(policy, state, ask("marketing"))) == [Rule.OBJECTION]


# --- restriction ---------------------------------------------------------------------------------


def test_restriction_allows_only_storage_and_legal_claims(policy: CompiledPolicy) -> None:
    """The right to restriction [S2 §7, S3 §8], to suspend use [S2 Thai §4(6)]: only storage and legal claims go on."""
    state = SubjectState(jurisdiction="TH", restricted=True)
    assert decide(policy, state, ask("records")).allowed
    assert decide(policy, state, ask("legal-claims")).allowed
    refused = decide(policy, state, ask("provide"))
    assert rules(refused) == [Rule.RESTRICTED]
    assert refused.reasons[0].source == "002_9e508a21e3d0ba23.txt#Thai 4(6)"
    assert rules(decide(policy, SubjectState(restricted=True), ask("orders", "web"))) == [Rule.RESTRICTED]


# --- US opt-outs ---------------------------------------------------------------------------------


def test_do_not_sell_stops_sale_and_sharing(policy: CompiledPolicy) -> None:
    """'You can disable them entirely by clicking the "Do Not Sell My Data" link' [S0 Sale of Information]."""
    state = SubjectState(jurisdiction="US-CA", opt_out_sale_share=True)
    decision = decide(policy, state, ask("ads", "web"))
    assert rules(decision) == [Rule.OPT_OUT_SALE_SHARE]
    assert decision.reasons[0].source == "Cal. Civ. Code §1798.120"
    assert decide(policy, state, ask("orders", "web")).allowed


def test_global_privacy_control_opts_out_where_the_law_recognises_it(policy: CompiledPolicy) -> None:
    """GPC is the industry standard S0 waits for ('Do Not Track ... until an industry standard exists');
    California and Colorado require honouring it [S0 Opt-Out of Sales and Sharing; CCPA Regs. §7025]."""
    californian = decide(policy, SubjectState(jurisdiction="US-CA", gpc=True), ask("ads", "web"))
    assert rules(californian) == [Rule.GLOBAL_PRIVACY_CONTROL]
    assert californian.reasons[0].source == "CCPA Regs. §7025"
    assert rules(decide(policy, SubjectState(jurisdiction="us-co", gpc=True), ask("ads", "web"))) == [
        Rule.GLOBAL_PRIVACY_CONTROL]
    # a state whose law (in this policy) does not recognise the signal
    assert decide(policy, SubjectState(jurisdiction="US-NY", gpc=True), ask("ads", "web")).allowed


def test_opt_out_of_targeted_advertising(policy: CompiledPolicy) -> None:
    """'Opt out of the disclosure of your information to third parties for certain targeted advertising' [S0]."""
    state = SubjectState(jurisdiction="US-CO", opt_out_targeted_advertising=True)
    decision = decide(policy, state, ask("ads", "web"))
    assert rules(decision) == [Rule.OPT_OUT_TARGETED_ADVERTISING]
    assert decision.reasons[0].source == "Colo. Rev. Stat. §6-1-1306(1)(a)(I)(A)"


def test_opt_out_of_profiling(policy: CompiledPolicy) -> None:
    """'Right to Opt-Out of Profiling' [S0 Your Rights]; profiling for marketing may be objected to [S3 §4.VIII]."""
    state = SubjectState(jurisdiction="US-CO", opt_out_profiling=True)
    assert rules(decide(policy, state, ask("personalisation", "web"))) == [Rule.OPT_OUT_PROFILING]
    assert decide(policy, state, ask("orders", "web")).allowed
    assert rules(decide(policy, state, ask("improve"))) == [Rule.OPT_OUT_PROFILING]


# --- sensitive data ------------------------------------------------------------------------------


def test_limit_sensitive_stops_sensitive_uses_the_law_does_not_permit(policy: CompiledPolicy) -> None:
    """'Right to Limit the Processing of Sensitive Information ... only for those purposes expressly
    authorized under applicable law' [S0 Your Rights]."""
    state = SubjectState(jurisdiction="US-CA", limit_sensitive=True)
    decision = decide(policy, state, ask("store-locator", "web"))
    assert rules(decision) == [Rule.LIMIT_SENSITIVE]
    assert decision.reasons[0].source == "Cal. Civ. Code §1798.121"
    assert decide(policy, state, ask("fraud-prevention", "web")).allowed  # limit_sensitive_exempt
    # asking for the non-sensitive part of the purpose only is not a sensitive use
    assert decide(policy, state, ask("fraud-prevention", "web", data_categories=("identity",))).allowed


def test_sensitive_data_beyond_the_purpose_is_refused(policy: CompiledPolicy) -> None:
    """'We do not sell or share sensitive information' [S0 Sale of Information]; sensitive data only
    for the purposes that list it [S2 §4 table]."""
    californian = SubjectState(jurisdiction="US-CA")
    decision = decide(policy, californian, ask("ads", "web", data_categories=("precise_location",)))
    assert rules(decision) == [Rule.SENSITIVE_DATA_NOT_ALLOWED]
    assert rules(decide(policy, SubjectState(), ask("improve", data_categories=("usage", "health")))) == [
        Rule.SENSITIVE_DATA_NOT_ALLOWED]


def test_category_outside_the_purpose_is_refused(policy: CompiledPolicy) -> None:
    """Each purpose uses the categories the table lists for it, no others [S2 §4 table; GDPR Art. 5(1)(b)]."""
    decision = decide(policy, SubjectState(), ask("improve", data_categories=("contact",)))
    assert rules(decision) == [Rule.CATEGORY_OUTSIDE_PURPOSE]
    assert decide(policy, SubjectState(), ask("improve", data_categories=("usage",))).allowed


# --- children ------------------------------------------------------------------------------------


def test_child_under_13_without_parental_consent_is_refused_in_the_uk(policy: CompiledPolicy) -> None:
    """'We do not knowingly collect ... from or about children without the consent of a parent or
    guardian'; a child is under 13 [S3 §13 I-III]."""
    child = SubjectState(jurisdiction="GB", birth_date=years_ago(13, days=1))
    decision = decide(policy, child, ask("provide"))
    assert rules(decision) == [Rule.CHILD_WITHOUT_PARENTAL_CONSENT]
    assert decision.outcome is Outcome.CONSENT_REQUIRED
    assert decision.reasons[0].source == "003_7293f6a511e294b4.txt#13"
    assert decide(policy, SubjectState(jurisdiction="GB", birth_date=years_ago(13)), ask("provide")).allowed
    with_parent = SubjectState(jurisdiction="GB", birth_date=years_ago(13, days=1), parental_consent=True)
    assert decide(policy, with_parent, ask("provide")).allowed


def test_child_under_16_needs_a_parent_elsewhere(policy: CompiledPolicy) -> None:
    """'Panasonic considers a child to be anyone under the age of 16 ... without the consent of a parent
    or guardian' [S1 Children]; a child's consent needs a parent's below 16 (GDPR Art. 8(1))."""
    fifteen = SubjectState(jurisdiction="DE", birth_date=years_ago(16, days=1),
                           consents=granted(("app", "wellness")))
    decision = decide(policy, fifteen, ask("wellness"))
    assert rules(decision) == [Rule.CHILD_WITHOUT_PARENTAL_CONSENT]
    assert decision.reasons[0].source == "001_cbab263f9514547f.txt#Children"
    assert rules(decide(policy, SubjectState(jurisdiction="DE", is_child=True), ask("provide"))) == [
        Rule.CHILD_WITHOUT_PARENTAL_CONSENT]


def test_thai_child_is_anyone_under_20(policy: CompiledPolicy) -> None:
    """'If you are Thai Residents, Panasonic considers a child to be anyone less than the age of 20' [S2 Thai §6]."""
    nineteen = SubjectState(jurisdiction="TH", birth_date=years_ago(20, days=1))
    assert rules(decide(policy, nineteen, ask("provide"))) == [Rule.CHILD_WITHOUT_PARENTAL_CONSENT]
    assert decide(policy, SubjectState(jurisdiction="DE", birth_date=years_ago(20, days=1)), ask("provide")).allowed


def test_us_site_keeps_no_data_of_young_children(policy: CompiledPolicy) -> None:
    """'Panasonic does not knowingly collect, sell, share, or maintain any information from children'
    [S0 Children's Online Privacy]: no purpose at all, parental consent or not."""
    child = SubjectState(jurisdiction="US-CA", birth_date=years_ago(13, days=1), parental_consent=True)
    decision = decide(policy, child, ask("orders", "web"))
    assert rules(decision) == [Rule.CHILD_NOT_SERVED]
    assert decision.outcome is Outcome.REFUSED


def test_never_sale_or_sharing_for_anyone_under_16(policy: CompiledPolicy) -> None:
    """'We do not sell or share ... the information of consumers under 16 years of age' [S0 Sale of
    Information and Targeted Advertising; Cal. Civ. Code §1798.120(c)]."""
    fifteen = SubjectState(jurisdiction="US-CA", birth_date=years_ago(16, days=1))
    decision = decide(policy, fifteen, ask("ads", "web"))
    assert rules(decision) == [Rule.SALE_SHARE_UNDER_AGE]
    assert "§1798.120(c)" in decision.reasons[0].source
    assert decide(policy, fifteen, ask("orders", "web")).allowed
    assert decide(policy, SubjectState(jurisdiction="US-CA", birth_date=years_ago(16)), ask("ads", "web")).allowed
    assert rules(decide(policy, SubjectState(jurisdiction="US-TX", is_child=True), ask("ads", "web")))[-1] is (
        Rule.SALE_SHARE_UNDER_AGE)


def test_born_on_29_february_comes_of_age_on_1_march() -> None:
    """Ages follow the calendar; a leap-day birthday counts from 1 March in common years [S1, S3 §13 ages]."""
    assert age_cutoff(dt.date(2025, 2, 28), 16) == dt.date(2009, 2, 28)
    assert age_cutoff(dt.date(2024, 2, 29), 1) == dt.date(2023, 2, 28)
    assert dt.date(2008, 2, 29) > age_cutoff(dt.date(2024, 2, 28), 16)  # still 15 on 28 February
    assert dt.date(2008, 2, 29) <= age_cutoff(dt.date(2024, 3, 1), 16)


# --- marketing channels --------------------------------------------------------------------------


def test_marketing_channel_switched_off(policy: CompiledPolicy) -> None:
    """Marketing by post, email, telephone and/or SMS; opt out by updating your contact preferences
    [S2 §7 'Your rights related to Marketing Communication', S3 §12]."""
    state = SubjectState(jurisdiction="GB", channels_off=frozenset({MarketingChannel.EMAIL}))
    decision = decide(policy, state, ask("marketing", channel=MarketingChannel.EMAIL))
    assert rules(decision) == [Rule.CHANNEL_OFF]
    assert decide(policy, state, ask("marketing", channel=MarketingChannel.POST)).allowed
    assert decide(policy, state, ask("marketing")).allowed  # other channels are still on
    everything_off = SubjectState(jurisdiction="GB", channels_off=frozenset(MarketingChannel))
    assert rules(decide(policy, everything_off, ask("marketing"))) == [Rule.CHANNEL_OFF]


def test_push_notifications_can_be_switched_off(policy: CompiledPolicy) -> None:
    """'You can deactivate these messages at any time' [S0 Mobile Push Notifications/Alerts]."""
    state = SubjectState(jurisdiction="US-CA", channels_off=frozenset({MarketingChannel.PUSH}))
    assert rules(decide(policy, state, ask("promotions", "web", channel=MarketingChannel.PUSH))) == [Rule.CHANNEL_OFF]
    assert decide(policy, state, ask("promotions", "web", channel=MarketingChannel.EMAIL)).allowed


def test_channel_the_purpose_does_not_use_is_refused(policy: CompiledPolicy) -> None:
    """Promotions go by email and push only [S0 Promotional Communications, Mobile Push Notifications]."""
    decision = decide(policy, SubjectState(jurisdiction="US-CA"), ask("promotions", "web", channel="sms"))
    assert rules(decision) == [Rule.CHANNEL_NOT_IN_PURPOSE]


# --- recipients ----------------------------------------------------------------------------------


def test_recipient_the_purpose_does_not_name_is_refused(policy: CompiledPolicy) -> None:
    """Data goes only to the recipients the notice names for the purpose [S3 §6, S2 §5, S1 Disclosure]."""
    assert rules(decide(policy, SubjectState(), ask("provide", recipient="ad-partners"))) == [
        Rule.RECIPIENT_NOT_NAMED]
    assert decide(policy, SubjectState(), ask("provide", recipient="service-providers")).allowed
    assert decide(policy, SubjectState(), ask("improve", recipient="service-providers")).allowed  # a disclosure


def test_no_disclosure_for_third_party_marketing_without_consent(policy: CompiledPolicy) -> None:
    """'We will not disclose your Personal Information to third parties for their own independent
    marketing or business purposes without your consent' [S1, S2 §5, S3 §6]."""
    state = SubjectState(jurisdiction="GB")
    decision = decide(policy, state, ask("marketing", recipient="partners"))
    assert rules(decision) == [Rule.DISCLOSURE_NEEDS_CONSENT]
    assert decision.outcome is Outcome.CONSENT_REQUIRED
    consented = SubjectState(jurisdiction="GB", consents=granted(("app", "marketing")))
    assert decide(policy, consented, ask("marketing", recipient="partners")).allowed
    assert decide(policy, state, ask("marketing")).allowed  # our own marketing stays on legitimate interests


# --- cookies -------------------------------------------------------------------------------------


def test_non_essential_cookies_need_consent(policy: CompiledPolicy) -> None:
    """Non-essential cookies only with consent, withdrawable in cookie settings [S2 cookie policy §2.6, §5.1]."""
    decision = decide(policy, SubjectState(jurisdiction="DE"), ask("analytics"))
    assert rules(decision) == [Rule.COOKIE_CONSENT_MISSING]
    assert decision.reasons[0].source == "002_9e508a21e3d0ba23.txt#cookies-2.2"
    assert decide(policy, SubjectState(jurisdiction="DE", cookie_categories=frozenset({"analytics"})),
                  ask("analytics")).allowed


# --- the decision as a whole ---------------------------------------------------------------------


def test_every_failing_rule_is_reported_in_table_order(policy: CompiledPolicy) -> None:
    """The answer explains itself: all the reasons, each with its source [DESIGN principle 2 and 4]."""
    state = SubjectState(jurisdiction="US-CA", opt_out_sale_share=True, gpc=True, opt_out_targeted_advertising=True,
                         restricted=True, birth_date=years_ago(15))
    decision = decide(policy, state, ask("ads", "web", recipient="service-providers"))
    assert rules(decision) == [Rule.RECIPIENT_NOT_NAMED, Rule.SALE_SHARE_UNDER_AGE, Rule.RESTRICTED,
                               Rule.OPT_OUT_SALE_SHARE, Rule.GLOBAL_PRIVACY_CONTROL, Rule.OPT_OUT_TARGETED_ADVERTISING]
    assert all(reason.source for reason in decision.reasons)
    assert decision.as_dict()["reasons"][0] == {"rule": "recipient-not-named",
                                                 "source": policy.purposes[("web", "ads")].source,
                                                 "detail": "web/ads does not name recipient service-providers"}


def test_the_decision_as_json(policy: CompiledPolicy) -> None:
    """What `pledge decide` prints: allowed, legal_basis, reasons."""
    data = decide(policy, SubjectState(jurisdiction="GB"), ask("survey")).as_dict()
    assert data == {
        "allowed": False, "outcome": "refused", "legal_basis": None, "notice": "app", "purpose": "survey",
        "jurisdiction": "GB",
        "reasons": [{"rule": "no-legal-basis", "source": "001_cbab263f9514547f.txt#Purposes",
                     "detail": "app/survey has no legal basis in GB"}],
    }


def test_a_service_selects_its_notice(policy: CompiledPolicy) -> None:
    """A decision is asked in the context of a service, which selects the notice [S1 intro, S2 §1, S3 §1]."""
    decision = decide(policy, SubjectState(jurisdiction="US-CA"),
                      DecisionAsk(purpose="orders", service="acme-store", at=AT))
    assert (decision.notice, decision.allowed) == ("web", True)


@pytest.mark.parametrize(("options", "message"), [
    ({"purpose": "orders", "notice": "nope"}, "unknown notice 'nope'"),
    ({"purpose": "orders", "service": "nope"}, "no notice covers service 'nope'"),
    ({"purpose": "nope", "notice": "web"}, "notice 'web' has no purpose 'nope'"),
    ({"purpose": "orders", "notice": "web", "data_categories": ("nope",)}, "unknown data category 'nope'"),
    ({"purpose": "orders", "notice": "web", "recipient": "nope"}, "unknown recipient 'nope'"),
])
def test_unknown_references_are_errors(policy: CompiledPolicy, options: dict[str, Any], message: str) -> None:
    """Bad input says what is wrong instead of deciding on a guess [issue 3, 'Bad input']."""
    with pytest.raises(UnknownReferenceError, match=message):
        decide(policy, SubjectState(), DecisionAsk(at=AT, **options))


def test_an_ask_needs_an_aware_instant_and_one_notice() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        DecisionAsk(purpose="orders", notice="web", at=dt.datetime(2025, 1, 1))
    with pytest.raises(ValueError, match="exactly one of notice and service"):
        DecisionAsk(purpose="orders", notice="web", service="acme-web", at=AT)
    with pytest.raises(ValueError, match="exactly one of notice and service"):
        DecisionAsk(purpose="orders", at=AT)


def test_deciding_is_pure(policy: CompiledPolicy) -> None:
    """Same inputs, same answer; the state is not changed [DESIGN principle 4]."""
    state = SubjectState(jurisdiction="DE", objections=frozenset({("app", "improve")}))
    first = decide(policy, state, ask("improve"))
    assert decide(policy, state, ask("improve")) == first
    assert state == SubjectState(jurisdiction="DE", objections=frozenset({("app", "improve")}))
