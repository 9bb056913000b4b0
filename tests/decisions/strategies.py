"""Random subject states and asks over the decisions fixture policy, for the agreement tests.

Values cluster where rules flip: ages a day either side of each limit, consents expiring a second
either side of the instant, residence codes in every spelling the resolver accepts.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass
from typing import Any

from hypothesis import strategies as st

from pledge.decisions import ConsentState, ConsentStatus, SubjectState
from pledge.decisions.engine import age_cutoff
from pledge.policy import CompiledPolicy
from pledge.policy.models import MarketingChannel

INSTANTS = (
    dt.datetime(2025, 1, 15, 12, 0, tzinfo=dt.UTC),
    dt.datetime(2024, 2, 29, 23, 59, 59, tzinfo=dt.UTC),
    dt.datetime(2023, 3, 1, 0, 0, tzinfo=dt.UTC),
)
JURISDICTION_CODES = (
    None, "", "  ", "DE", "de", " FR ", "IE", "NL", "EEA", "eea", "GB", "gb", "GB-SCT", "TH", "th", "US-CA", "us-ca",
    "US-CO", "US-NY", "US", "us", "JP", "VN", "default", "DEFAULT", "DE-BY", "X", "-", "-DE",
)
AGES = (13, 16, 20)
BIRTH_DATES = tuple(sorted(
    {age_cutoff(at.date(), age) + dt.timedelta(days=shift) for at in INSTANTS for age in AGES for shift in (-1, 0, 1)}
    | {dt.date(2008, 2, 29), dt.date(2004, 2, 29), dt.date(1980, 6, 1), dt.date(2015, 1, 1)}
))
EXPIRY_SHIFTS = (-86_400, -1, 0, 1, 86_400)
COOKIE_CATEGORIES = ("essential", "analytics", "advertising", "Analytics")
FLAGS = ("is_child", "parental_consent", "objects_to_marketing", "restricted", "opt_out_sale_share",
         "opt_out_targeted_advertising", "opt_out_profiling", "gpc", "limit_sensitive")


@dataclass(frozen=True)
class AskParams:
    """One bulk-able question: a purpose and the ask's options, at an instant."""

    notice: str
    purpose: str
    at: dt.datetime
    data_categories: tuple[str, ...] = ()
    recipient: str | None = None
    channel: MarketingChannel | None = None
    jurisdiction: str | None = None

    def options(self) -> dict[str, Any]:
        return {"data_categories": self.data_categories, "recipient": self.recipient, "channel": self.channel,
                "jurisdiction": self.jurisdiction}


def expiries() -> st.SearchStrategy[dt.datetime | None]:
    return st.one_of(st.none(), st.builds(lambda at, s: at + dt.timedelta(seconds=s),
                                          st.sampled_from(INSTANTS), st.sampled_from(EXPIRY_SHIFTS)))


def subject_states(policy: CompiledPolicy) -> st.SearchStrategy[SubjectState]:
    keys = sorted(policy.purposes)
    consent = st.builds(ConsentState, st.sampled_from(ConsentStatus), expiries())
    consents = st.dictionaries(st.sampled_from(keys), consent, max_size=4)
    return st.builds(
        SubjectState,
        jurisdiction=st.sampled_from(JURISDICTION_CODES),
        birth_date=st.one_of(st.none(), st.sampled_from(BIRTH_DATES)),
        consents=consents,
        objections=st.frozensets(st.sampled_from(keys), max_size=3),
        channels_off=st.frozensets(st.sampled_from(list(MarketingChannel))),
        cookie_categories=st.frozensets(st.sampled_from(COOKIE_CATEGORIES)),
        **{flag: st.booleans() for flag in FLAGS},
    )


def asks(policy: CompiledPolicy) -> st.SearchStrategy[AskParams]:
    keys = sorted(policy.purposes)
    return st.builds(
        lambda key, *rest: AskParams(key[0], key[1], *rest),
        st.sampled_from(keys),
        st.sampled_from(INSTANTS),
        st.one_of(st.just(()), st.lists(st.sampled_from(sorted(policy.data_categories)), max_size=2, unique=True)
                  .map(tuple)),
        st.one_of(st.none(), st.sampled_from(sorted(policy.recipients))),
        st.one_of(st.none(), st.sampled_from(list(MarketingChannel))),
        st.one_of(st.none(), st.none(), st.none(), st.sampled_from(JURISDICTION_CODES)),
    )


def random_state(rng: random.Random, policy: CompiledPolicy) -> SubjectState:
    """A plain random state (no Hypothesis), for large populations."""
    keys = sorted(policy.purposes)
    consents = {key: ConsentState(rng.choice(list(ConsentStatus)),
                                  None if rng.random() < 0.5 else rng.choice(INSTANTS)
                                  + dt.timedelta(seconds=rng.choice(EXPIRY_SHIFTS)))
                for key in rng.sample(keys, rng.randint(0, 4))}
    return SubjectState(
        jurisdiction=rng.choice(JURISDICTION_CODES),
        birth_date=None if rng.random() < 0.3 else rng.choice(BIRTH_DATES),
        consents=consents,
        objections=frozenset(rng.sample(keys, rng.choice((0, 0, 1, 2)))),
        channels_off=frozenset(c for c in MarketingChannel if rng.random() < 0.3),
        cookie_categories=frozenset(c for c in COOKIE_CATEGORIES if rng.random() < 0.4),
        **{flag: rng.random() < 0.15 for flag in FLAGS},
    )
