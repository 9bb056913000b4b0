"""Pydantic shapes of subjects and identities, for the API and the CLI's JSON output."""

from __future__ import annotations

import datetime as dt

from pydantic import Field

from pledge.schemas import InputModel, PledgeBase
from pledge.subjects.identities import IdentityKind


class IdentityBase(PledgeBase):
    kind: IdentityKind = Field(description="email, phone, customer_number, device_id, browser_id, lumix_pro_membership")
    value: str = Field(min_length=1, max_length=320, description="as typed; pledge normalises it")


class IdentityCreate(InputModel, IdentityBase):
    pass


class IdentityRead(IdentityBase):
    created_at: dt.datetime


class SubjectBase(PledgeBase):
    residence: str | None = Field(default=None, max_length=16,
                                  description="ISO 3166 code of residence: DE, GB, US-CA, TH ...")
    birth_date: dt.date | None = None
    age_band: str | None = Field(default=None, max_length=16, description="13-15, 18+ or under-13")


class SubjectCreate(InputModel, SubjectBase):
    identities: list[IdentityCreate] = Field(default_factory=list)


class SubjectRead(SubjectBase):
    id: str
    jurisdiction: str = Field(description="the policy jurisdiction the residence resolves to")
    identities: list[IdentityRead]
    merged_subjects: list[str] = Field(default_factory=list,
                                       description="subjects merged into this one (e.g. a browser before login)")
    created_at: dt.datetime
