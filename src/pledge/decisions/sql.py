"""The decision as SQL: select the subjects allowed one purpose, inside the company's own database.

A company exports the consent state (two tables, columns in ``docs/decisions.md``) to its
warehouse; ``allowed_subjects_sql`` emits a SELECT of the subject ids that ``decide`` would allow,
for SQLite, PostgreSQL or DuckDB. The WHERE clause is compiled from the same rule table as the
single and bulk paths: each check's predicate becomes a SQL expression, NULL-safe, and checks that
differ by jurisdiction are keyed on the policy jurisdiction the residence code resolves to (a CASE
that mirrors ``CompiledPolicy.resolve_jurisdiction`` for ASCII codes).

The instant of the decision (consent expiry, ages) is baked into the query as literals: emit it
again to evaluate it at another time.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    ColumnElement,
    Date,
    MetaData,
    Select,
    String,
    Table,
    and_,
    case,
    false,
    func,
    literal,
    not_,
    or_,
    select,
    true,
)
from sqlalchemy.dialects.postgresql.base import PGDialect
from sqlalchemy.dialects.sqlite.base import SQLiteDialect
from sqlalchemy.engine import Dialect
from sqlalchemy.sql.type_api import TypeEngine

from pledge.decisions.engine import (
    RULE_NUMBERS,
    All,
    Always,
    ChannelsOff,
    CookieNotAccepted,
    Flag,
    NoLiveConsent,
    Not,
    Objected,
    Predicate,
    Rule,
    Under,
    age_cutoff,
    rule_table,
)
from pledge.decisions.state import FLAGS, PurposeKey, SubjectState, epoch_seconds
from pledge.policy.checks import DEFAULT_JURISDICTION
from pledge.policy.compile import CompiledPolicy
from pledge.policy.models import MarketingChannel

SUBJECT_TABLE = "pledge_subject_state"
PURPOSE_TABLE = "pledge_purpose_state"
DIALECTS = ("sqlite", "postgresql", "duckdb")


def channel_column(channel: MarketingChannel) -> str:
    """The column that says a marketing channel is switched off, e.g. ``email_off``."""
    return f"{channel.value}_off"


def subject_state_table(metadata: MetaData | None = None, name: str = SUBJECT_TABLE, *,
                        subject_id_type: TypeEngine[Any] | None = None) -> Table:
    """The exported subject table: one row per subject."""
    return Table(
        name, metadata if metadata is not None else MetaData(),
        Column("subject_id", subject_id_type if subject_id_type is not None else BigInteger(), primary_key=True,
               autoincrement=False),
        Column("jurisdiction", String(32)),
        Column("birth_date", Date),
        *(Column(flag, Boolean) for flag in FLAGS),
        *(Column(channel_column(channel), Boolean) for channel in MarketingChannel),
        Column("cookie_categories", String(1000)),
    )


def purpose_state_table(metadata: MetaData | None = None, name: str = PURPOSE_TABLE, *,
                        subject_id_type: TypeEngine[Any] | None = None) -> Table:
    """The exported purpose table: one row per subject and (notice, purpose) with a consent or an objection."""
    return Table(
        name, metadata if metadata is not None else MetaData(),
        Column("subject_id", subject_id_type if subject_id_type is not None else BigInteger(), primary_key=True,
               autoincrement=False),
        Column("notice_id", String(80), primary_key=True),
        Column("purpose_id", String(80), primary_key=True),
        Column("consent_status", String(16)),
        Column("consent_expires_at", BigInteger),
        Column("objected", Boolean),
    )


def subject_row(subject_id: Any, state: SubjectState) -> dict[str, Any]:
    """A ``SubjectState`` as a row of the subject table."""
    return {
        "subject_id": subject_id,
        "jurisdiction": state.jurisdiction,
        "birth_date": state.birth_date,
        **{flag: getattr(state, flag) for flag in FLAGS},
        **{channel_column(channel): channel in state.channels_off for channel in MarketingChannel},
        "cookie_categories": ",".join(sorted(state.cookie_categories)),
    }


def purpose_rows(subject_id: Any, state: SubjectState) -> list[dict[str, Any]]:
    """A ``SubjectState``'s consents and objections as rows of the purpose table."""
    keys: set[PurposeKey] = {*state.consents, *state.objections}
    rows = []
    for notice_id, purpose_id in sorted(keys):
        consent = state.consents.get((notice_id, purpose_id))
        rows.append({
            "subject_id": subject_id, "notice_id": notice_id, "purpose_id": purpose_id,
            "consent_status": consent.status.value if consent else None,
            "consent_expires_at": epoch_seconds(consent.expires_at) if consent and consent.expires_at else None,
            "objected": (notice_id, purpose_id) in state.objections,
        })
    return rows


# --- predicates as SQL -----------------------------------------------------------------------------


def _flag(column: ColumnElement[Any]) -> ColumnElement[bool]:
    return func.coalesce(column, false())


def _resolved_jurisdiction(policy: CompiledPolicy, column: ColumnElement[Any]) -> ColumnElement[str]:
    """SQL twin of ``CompiledPolicy.resolve_jurisdiction``: exact id, upper-case id or member, country prefix.

    Simple CASEs (one operand, many WHENs), so each row computes ``upper(trim(code))`` once per level.
    """
    code = func.trim(column)
    upper = func.upper(code)
    ids = list(policy.jurisdictions)
    whole: dict[str, str] = {jid: jid for jid in ids if jid == jid.upper()}
    prefixes: dict[int, dict[str, str]] = {}
    for jid in ids:
        if jid == jid.upper() and "-" not in jid:
            prefixes.setdefault(len(jid), {}).setdefault(f"{jid}-", jid)
    for member, jid in policy.member_jurisdiction.items():
        whole.setdefault(member, jid)
        if "-" not in member:
            prefixes.setdefault(len(member), {}).setdefault(f"{member}-", jid)
    resolved: ColumnElement[str] = literal(DEFAULT_JURISDICTION)
    for length, mapping in sorted(prefixes.items(), reverse=True):
        resolved = case(mapping, value=func.substr(upper, 1, length + 1), else_=resolved)
    if whole:
        resolved = case(whole, value=upper, else_=resolved)
    exact = {jid: jid for jid in ids if jid != jid.upper()}
    if exact:
        resolved = case(exact, value=code, else_=resolved)
    return resolved


class _Compiler:
    def __init__(self, subjects: Any, purposes: Any, at: dt.datetime) -> None:
        self.s = subjects
        self.p = purposes
        self.at_seconds = epoch_seconds(at)
        self.at_date = at.date()
        self.uses_purposes = False

    def sql(self, predicate: Predicate) -> ColumnElement[bool]:
        s = self.s
        match predicate:
            case Always():
                return true()
            case Flag(name):
                return _flag(s.c[name])
            case Not(operand):
                return not_(self.sql(operand))
            case All(operands):
                return and_(*(self.sql(op) for op in operands))
            case Under(age):
                cutoff = age_cutoff(self.at_date, age)
                born_later = and_(s.c.birth_date.is_not(None), s.c.birth_date > literal(cutoff, Date))
                return or_(_flag(s.c.is_child), born_later)
            case NoLiveConsent():
                self.uses_purposes = True
                p = self.p
                live = and_(func.coalesce(p.c.consent_status, "") == "granted",
                            or_(p.c.consent_expires_at.is_(None), p.c.consent_expires_at > self.at_seconds))
                return not_(live)
            case Objected():
                self.uses_purposes = True
                return _flag(self.p.c.objected)
            case ChannelsOff(channels):
                return and_(*(_flag(s.c[channel_column(ch)]) for ch in sorted(channels)))
            case CookieNotAccepted(category):
                listed = literal(",") + func.coalesce(s.c.cookie_categories, "") + literal(",")
                # replace() is case-sensitive on every dialect (LIKE is not, on SQLite)
                return func.replace(listed, f",{category},", "") == listed
        raise TypeError(f"no SQL form for predicate {predicate!r}")


def allowed_subjects_select(
    policy: CompiledPolicy, notice: str, purpose: str, *, at: dt.datetime,
    data_categories: Sequence[str] = (), recipient: str | None = None, channel: MarketingChannel | None = None,
    jurisdiction: str | None = None, subject_table: str = SUBJECT_TABLE, purpose_table: str = PURPOSE_TABLE,
    subject_id_type: TypeEngine[Any] | None = None,
) -> Select[Any]:
    """The SELECT of allowed subject ids, as a SQLAlchemy statement (``notice`` is a notice id or a service)."""
    if at.tzinfo is None:
        raise ValueError(f"at must be timezone-aware (UTC), got {at!r}")
    table = rule_table(policy)
    by_notice = notice in policy.notices
    channel = MarketingChannel(channel) if channel is not None else None
    metadata = MetaData()
    subjects_table = subject_state_table(metadata, subject_table, subject_id_type=subject_id_type)
    purposes_table = purpose_state_table(metadata, purpose_table, subject_id_type=subject_id_type)

    jurisdiction_ids = [jurisdiction] if jurisdiction is not None else [*policy.jurisdictions, DEFAULT_JURISDICTION]
    plans = {code: table.plan(notice=notice if by_notice else None, service=None if by_notice else notice,
                              purpose=purpose, jurisdiction=code, data_categories=tuple(data_categories),
                              recipient=recipient, channel=channel)
             for code in dict.fromkeys(jurisdiction_ids)}
    notice_id = next(iter(plans.values())).notice
    resolved_by_plan = {code: plan.jurisdiction for code, plan in plans.items()}
    groups: dict[tuple[Rule, Predicate], list[str]] = {}
    for code, plan in plans.items():
        for check in plan.checks:
            groups.setdefault((check.rule, check.when), []).append(resolved_by_plan[code])

    s = select(
        *subjects_table.c,
        _resolved_jurisdiction(policy, subjects_table.c.jurisdiction).label("policy_jurisdiction"),
    ).subquery("s")
    p = purposes_table.alias("p")
    compiler = _Compiler(s, p, at)
    refusals: list[ColumnElement[bool]] = []
    for (_rule, when), covered in sorted(groups.items(), key=lambda item: RULE_NUMBERS[item[0][0]]):
        refuses = compiler.sql(when)
        if len(covered) < len(plans):
            refuses = and_(s.c.policy_jurisdiction.in_(sorted(set(covered))), refuses)
        refusals.append(refuses)
    source: Any = s
    if compiler.uses_purposes:
        source = s.outerjoin(p, and_(p.c.subject_id == s.c.subject_id, p.c.notice_id == notice_id,
                                     p.c.purpose_id == purpose))
    query = select(s.c.subject_id).select_from(source)
    if refusals:
        query = query.where(and_(*(not_(refuses) for refuses in refusals)))
    return query.order_by(s.c.subject_id)


def _dialect(name: str) -> Dialect:
    if name == "sqlite":
        return SQLiteDialect()
    if name in ("postgresql", "duckdb"):
        # DuckDB reads PostgreSQL's SQL for everything this query uses (CASE, COALESCE, substr, replace).
        return PGDialect()  # type: ignore[no-untyped-call]
    raise ValueError(f"unknown dialect {name!r}: choose one of {', '.join(DIALECTS)}")


def allowed_subjects_sql(policy: CompiledPolicy, notice: str, purpose: str, dialect: str, *,
                         at: dt.datetime | None = None, **options: Any) -> str:
    """The SELECT of allowed subject ids as SQL text for ``dialect`` (sqlite, postgresql or duckdb).

    ``at`` defaults to now (UTC); ``options`` are those of ``allowed_subjects_select``.
    """
    target = _dialect(dialect)
    when = at if at is not None else dt.datetime.now(dt.UTC)
    query = allowed_subjects_select(policy, notice, purpose, at=when, **options)
    return str(query.compile(dialect=target, compile_kwargs={"literal_binds": True}))


__all__ = [
    "DIALECTS", "PURPOSE_TABLE", "SUBJECT_TABLE", "allowed_subjects_select", "allowed_subjects_sql",
    "channel_column", "purpose_rows", "purpose_state_table", "subject_row", "subject_state_table",
]
