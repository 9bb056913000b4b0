"""processor_endpoint, processor_notification and processor_attempt: signed webhooks to processors

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-28
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = '0004'
down_revision: str | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('processor_endpoint',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('recipient_id', sa.String(length=80), nullable=False),
    sa.Column('url', sa.String(length=2000), nullable=False),
    sa.Column('secret_env', sa.String(length=128), nullable=False),
    sa.Column('identities', sa.String(length=8), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_processor_endpoint')),
    sa.UniqueConstraint('recipient_id', name=op.f('uq_processor_endpoint_recipient_id'))
    )
    op.create_table('processor_notification',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('uid', sa.String(length=32), nullable=False),
    sa.Column('request_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('endpoint_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('recipient_id', sa.String(length=80), nullable=False),
    sa.Column('action', sa.String(length=24), nullable=False),
    sa.Column('payload', sa.JSON().with_variant(postgresql.JSONB(), 'postgresql'), nullable=False),
    sa.Column('body_sha256', sa.String(length=64), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('last_status', sa.Integer(), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('job_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('delivered_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['endpoint_id'], ['processor_endpoint.id'],
                            name=op.f('fk_processor_notification_endpoint_id_processor_endpoint'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['request_id'], ['rights_request.id'],
                            name=op.f('fk_processor_notification_request_id_rights_request'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_processor_notification')),
    sa.UniqueConstraint('request_id', 'recipient_id', name=op.f('uq_processor_notification_request_id_recipient_id')),
    sa.UniqueConstraint('uid', name=op.f('uq_processor_notification_uid'))
    )
    with op.batch_alter_table('processor_notification', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_processor_notification_endpoint_id'), ['endpoint_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_processor_notification_recipient_id'), ['recipient_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_processor_notification_request_id'), ['request_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_processor_notification_state'), ['state'], unique=False)

    op.create_table('processor_attempt',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('notification_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('number', sa.Integer(), nullable=False),
    sa.Column('attempted_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('url', sa.String(length=2000), nullable=False),
    sa.Column('status_code', sa.Integer(), nullable=True),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('delivered', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['notification_id'], ['processor_notification.id'],
                            name=op.f('fk_processor_attempt_notification_id_processor_notification'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_processor_attempt'))
    )
    with op.batch_alter_table('processor_attempt', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_processor_attempt_notification_id'), ['notification_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('processor_attempt', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_processor_attempt_notification_id'))

    op.drop_table('processor_attempt')
    with op.batch_alter_table('processor_notification', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_processor_notification_state'))
        batch_op.drop_index(batch_op.f('ix_processor_notification_request_id'))
        batch_op.drop_index(batch_op.f('ix_processor_notification_recipient_id'))
        batch_op.drop_index(batch_op.f('ix_processor_notification_endpoint_id'))

    op.drop_table('processor_notification')
    op.drop_table('processor_endpoint')
