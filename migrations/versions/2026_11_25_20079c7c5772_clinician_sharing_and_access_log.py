"""clinician sharing and access log

Revision ID: 20079c7c5772
Revises: 326275fcafe5
Create Date: 2026-11-25 17:41:12.229371
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

import app.core.database

revision: str = '20079c7c5772'
down_revision: str | None = '326275fcafe5'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:

    op.create_table('access_log',
    sa.Column('patient_id', sa.Uuid(), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('actor_id', sa.Uuid(), nullable=False),
    sa.Column('actor_role', sa.String(length=16), nullable=False),
    sa.Column('at', app.core.database.UTCDateTime(timezone=True), nullable=False),
    sa.Column('method', sa.String(length=8), nullable=False),
    sa.Column('path', sa.String(length=300), nullable=False),
    sa.ForeignKeyConstraint(['patient_id'], ['users.id'], name=op.f('fk_access_log_patient_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('patient_id', 'id', name=op.f('pk_access_log'))
    )
    with op.batch_alter_table('access_log', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_access_log_patient_id_at'), ['patient_id', 'at'], unique=False)

    op.create_table('clinician_links',
    sa.Column('patient_id', sa.Uuid(), nullable=False),
    sa.Column('clinician_id', sa.Uuid(), nullable=False),
    sa.Column('linked_at', app.core.database.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['clinician_id'], ['users.id'], name=op.f('fk_clinician_links_clinician_id_users'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['patient_id'], ['users.id'], name=op.f('fk_clinician_links_patient_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('patient_id', 'clinician_id', name=op.f('pk_clinician_links'))
    )
    with op.batch_alter_table('clinician_links', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_clinician_links_clinician_id'), ['clinician_id'], unique=False)

    op.create_table('share_codes',
    sa.Column('code_hash', sa.String(length=64), nullable=False),
    sa.Column('patient_id', sa.Uuid(), nullable=False),
    sa.Column('created_at', app.core.database.UTCDateTime(timezone=True), nullable=False),
    sa.Column('expires_at', app.core.database.UTCDateTime(timezone=True), nullable=False),
    sa.Column('used_at', app.core.database.UTCDateTime(timezone=True), nullable=True),
    sa.Column('used_by', sa.Uuid(), nullable=True),
    sa.ForeignKeyConstraint(['patient_id'], ['users.id'], name=op.f('fk_share_codes_patient_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('code_hash', name=op.f('pk_share_codes'))
    )
    with op.batch_alter_table('share_codes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_share_codes_patient_id'), ['patient_id'], unique=False)




def downgrade() -> None:

    with op.batch_alter_table('share_codes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_share_codes_patient_id'))

    op.drop_table('share_codes')
    with op.batch_alter_table('clinician_links', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_clinician_links_clinician_id'))

    op.drop_table('clinician_links')
    with op.batch_alter_table('access_log', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_access_log_patient_id_at'))

    op.drop_table('access_log')

