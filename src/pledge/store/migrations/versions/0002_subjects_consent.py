"""data subjects and identities, the consent ledger and its projection, disclosures, API keys

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
LEDGER_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "data_subject",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("residence", sa.String(length=16), nullable=True),
        sa.Column("birth_date", sa.Date(), nullable=True),
        sa.Column("age_band", sa.String(length=16), nullable=True),
        sa.Column("merged_into_id", sa.String(length=32), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["merged_into_id"], ["data_subject.id"],
                                name=op.f("fk_data_subject_merged_into_id_data_subject")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_data_subject")),
    )
    op.create_index(op.f("ix_data_subject_merged_into_id"), "data_subject", ["merged_into_id"], unique=False)

    op.create_table(
        "subject_identity",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("subject_id", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("value", sa.String(length=320), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["subject_id"], ["data_subject.id"],
                                name=op.f("fk_subject_identity_subject_id_data_subject")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_subject_identity")),
        sa.UniqueConstraint("kind", "value", name=op.f("uq_subject_identity_kind_value")),
    )
    op.create_index(op.f("ix_subject_identity_subject_id"), "subject_identity", ["subject_id"], unique=False)

    op.create_table(
        "consent_event",
        sa.Column("id", LEDGER_ID, autoincrement=True, nullable=False),
        sa.Column("uid", sa.String(length=32), nullable=False),
        sa.Column("subject_id", sa.String(length=32), nullable=False),
        sa.Column("identity_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("target", sa.String(length=120), nullable=False),
        sa.Column("notice_id", sa.String(length=80), nullable=False),
        sa.Column("notice_version", sa.Integer(), nullable=True),
        sa.Column("jurisdiction", sa.String(length=80), nullable=False),
        sa.Column("collection_point", sa.String(length=24), nullable=False),
        sa.Column("actor", sa.String(length=24), nullable=False),
        sa.Column("actor_ref", sa.String(length=200), nullable=True),
        sa.Column("evidence_hash", sa.String(length=64), nullable=True),
        sa.Column("ip_address", sa.String(length=45), nullable=True),
        sa.Column("user_agent", sa.String(length=512), nullable=True),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("idempotency_key", sa.String(length=128), nullable=True),
        sa.Column("request_hash", sa.String(length=64), nullable=True),
        sa.Column("policy_revision", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(["identity_id"], ["subject_identity.id"],
                                name=op.f("fk_consent_event_identity_id_subject_identity")),
        sa.ForeignKeyConstraint(["subject_id"], ["data_subject.id"],
                                name=op.f("fk_consent_event_subject_id_data_subject")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_consent_event")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_consent_event_idempotency_key")),
        sa.UniqueConstraint("uid", name=op.f("uq_consent_event_uid")),
    )
    op.create_index("ix_consent_event_subject_id_id", "consent_event", ["subject_id", "id"], unique=False)

    op.create_table(
        "consent_state",
        sa.Column("subject_id", sa.String(length=32), nullable=False),
        sa.Column("aspect", sa.String(length=24), nullable=False),
        sa.Column("notice_id", sa.String(length=80), nullable=False),
        sa.Column("target", sa.String(length=120), nullable=False),
        sa.Column("value", sa.String(length=24), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("event_id", LEDGER_ID, nullable=False),
        sa.ForeignKeyConstraint(["subject_id"], ["data_subject.id"],
                                name=op.f("fk_consent_state_subject_id_data_subject")),
        sa.PrimaryKeyConstraint("subject_id", "aspect", "notice_id", "target", name=op.f("pk_consent_state")),
    )

    op.create_table(
        "disclosure",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("recipient", sa.String(length=200), nullable=False),
        sa.Column("notice_id", sa.String(length=80), nullable=False),
        sa.Column("purpose", sa.String(length=80), nullable=False),
        sa.Column("data_categories", JSON, nullable=False),
        sa.Column("record_count", sa.Integer(), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("detail", JSON, nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("disclosed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_disclosure")),
    )
    op.create_index(op.f("ix_disclosure_disclosed_at"), "disclosure", ["disclosed_at"], unique=False)

    op.create_table(
        "api_key",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key_id", sa.String(length=16), nullable=False),
        sa.Column("secret_hash", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("scopes", JSON, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_key")),
        sa.UniqueConstraint("key_id", name=op.f("uq_api_key_key_id")),
    )


def downgrade() -> None:
    op.drop_table("api_key")
    op.drop_index(op.f("ix_disclosure_disclosed_at"), table_name="disclosure")
    op.drop_table("disclosure")
    op.drop_table("consent_state")
    op.drop_index("ix_consent_event_subject_id_id", table_name="consent_event")
    op.drop_table("consent_event")
    op.drop_index(op.f("ix_subject_identity_subject_id"), table_name="subject_identity")
    op.drop_table("subject_identity")
    op.drop_index(op.f("ix_data_subject_merged_into_id"), table_name="data_subject")
    op.drop_table("data_subject")
