"""rights_request, its event log and documents; the durable job table

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = '0003'
down_revision: str | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('job',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('kind', sa.String(length=80), nullable=False),
    sa.Column('payload', sa.JSON().with_variant(postgresql.JSONB(), 'postgresql'), nullable=False),
    sa.Column('ref', sa.String(length=120), nullable=True),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('max_attempts', sa.Integer(), nullable=False),
    sa.Column('run_after', sa.DateTime(timezone=True), nullable=False),
    sa.Column('locked_by', sa.String(length=120), nullable=True),
    sa.Column('locked_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('progress', sa.Float(), nullable=False),
    sa.Column('progress_message', sa.Text(), nullable=True),
    sa.Column('result', sa.JSON().with_variant(postgresql.JSONB(), 'postgresql'), nullable=True),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_job'))
    )
    op.create_index(op.f('ix_job_ref'), 'job', ['ref'], unique=False)
    op.create_index('ix_job_state_run_after', 'job', ['state', 'run_after'], unique=False)

    op.create_table('rights_request',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('reference', sa.String(length=24), nullable=False),
    sa.Column('request_type', sa.String(length=40), nullable=False),
    sa.Column('right', sa.String(length=40), nullable=False),
    sa.Column('jurisdiction', sa.String(length=80), nullable=False),
    sa.Column('residence', sa.String(length=16), nullable=True),
    sa.Column('state', sa.String(length=32), nullable=False),
    sa.Column('channel', sa.String(length=16), nullable=False),
    sa.Column('subject_id', sa.String(length=32), nullable=True),
    sa.Column('identity_kind', sa.String(length=24), nullable=False),
    sa.Column('identity_value', sa.String(length=320), nullable=False),
    sa.Column('contact_email', sa.String(length=320), nullable=False),
    sa.Column('details', sa.JSON().with_variant(postgresql.JSONB(), 'postgresql'), nullable=False),
    sa.Column('agent_name', sa.String(length=200), nullable=True),
    sa.Column('agent_email', sa.String(length=320), nullable=True),
    sa.Column('appeal_of_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('policy_revision', sa.String(length=64), nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('confirmation_due_on', sa.Date(), nullable=True),
    sa.Column('confirmed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('verification_level', sa.String(length=80), nullable=True),
    sa.Column('verified_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('verification_method', sa.String(length=40), nullable=True),
    sa.Column('code_hash', sa.String(length=64), nullable=True),
    sa.Column('code_expires_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('code_attempts', sa.Integer(), nullable=False),
    sa.Column('clock_started_on', sa.Date(), nullable=True),
    sa.Column('due_on', sa.Date(), nullable=True),
    sa.Column('original_due_on', sa.Date(), nullable=True),
    sa.Column('extensions_used', sa.Integer(), nullable=False),
    sa.Column('extension_notice_by', sa.Date(), nullable=True),
    sa.Column('deadline_source', sa.Text(), nullable=True),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('outcome_reason', sa.Text(), nullable=True),
    sa.Column('result', sa.JSON().with_variant(postgresql.JSONB(), 'postgresql'), nullable=False),
    sa.Column('package_path', sa.String(length=500), nullable=True),
    sa.Column('package_sha256', sa.String(length=64), nullable=True),
    sa.Column('package_created_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('retain_until', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['appeal_of_id'], ['rights_request.id'],
                            name=op.f('fk_rights_request_appeal_of_id_rights_request'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['subject_id'], ['data_subject.id'],
                            name=op.f('fk_rights_request_subject_id_data_subject'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_rights_request')),
    sa.UniqueConstraint('reference', name=op.f('uq_rights_request_reference'))
    )
    op.create_index('ix_rights_request_identity', 'rights_request', ['identity_kind', 'identity_value'], unique=False)
    op.create_index(op.f('ix_rights_request_retain_until'), 'rights_request', ['retain_until'], unique=False)
    op.create_index(op.f('ix_rights_request_state'), 'rights_request', ['state'], unique=False)
    op.create_index('ix_rights_request_state_due_on', 'rights_request', ['state', 'due_on'], unique=False)
    op.create_index(op.f('ix_rights_request_subject_id'), 'rights_request', ['subject_id'], unique=False)

    op.create_table('rights_request_document',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('request_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('filename', sa.String(length=255), nullable=False),
    sa.Column('content_type', sa.String(length=120), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('content', sa.LargeBinary(), nullable=False),
    sa.Column('uploaded_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('checked', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['request_id'], ['rights_request.id'],
                            name=op.f('fk_rights_request_document_request_id_rights_request'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_rights_request_document'))
    )
    op.create_index(op.f('ix_rights_request_document_request_id'), 'rights_request_document', ['request_id'],
                    unique=False)

    op.create_table('rights_request_event',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('request_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('from_state', sa.String(length=32), nullable=True),
    sa.Column('to_state', sa.String(length=32), nullable=True),
    sa.Column('actor', sa.String(length=200), nullable=False),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('data', sa.JSON().with_variant(postgresql.JSONB(), 'postgresql'), nullable=False),
    sa.Column('occurred_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['request_id'], ['rights_request.id'],
                            name=op.f('fk_rights_request_event_request_id_rights_request'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_rights_request_event'))
    )
    op.create_index(op.f('ix_rights_request_event_request_id'), 'rights_request_event', ['request_id'], unique=False)



def downgrade() -> None:
    op.drop_index(op.f('ix_rights_request_event_request_id'), table_name='rights_request_event')

    op.drop_table('rights_request_event')
    op.drop_index(op.f('ix_rights_request_document_request_id'), table_name='rights_request_document')

    op.drop_table('rights_request_document')
    op.drop_index(op.f('ix_rights_request_subject_id'), table_name='rights_request')
    op.drop_index('ix_rights_request_state_due_on', table_name='rights_request')
    op.drop_index(op.f('ix_rights_request_state'), table_name='rights_request')
    op.drop_index(op.f('ix_rights_request_retain_until'), table_name='rights_request')
    op.drop_index('ix_rights_request_identity', table_name='rights_request')

    op.drop_table('rights_request')
    op.drop_index('ix_job_state_run_after', table_name='job')
    op.drop_index(op.f('ix_job_ref'), table_name='job')

    op.drop_table('job')
