"""rate limits counted in the database (PostgreSQL: UNLOGGED)

Revision ID: a6f41be4e5b7
Revises: 8dcdff4141e9
Create Date: 2026-12-06 19:32:19.983941
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = 'a6f41be4e5b7'
down_revision: str | None = '8dcdff4141e9'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    # UNLOGGED: a count needs no crash-safety, and each event then commits without a WAL
    # flush (a crash empties the table: every window starts again).
    op.create_table('rate_limits',
    sa.Column('key', sa.Text(), nullable=False),
    sa.Column('events', postgresql.ARRAY(sa.Float(precision=53)).with_variant(sa.JSON(), 'sqlite'), nullable=False),
    sa.Column('refused', sa.Boolean(), nullable=False),
    sa.Column('expires_at', sa.Float(precision=53), nullable=False),
    sa.PrimaryKeyConstraint('key', name=op.f('pk_rate_limits')),
    prefixes=["UNLOGGED"] if postgres else [],
    )
    if postgres:
        # Out of line when long, never compressed: compressing a few KB of timestamps on
        # every event cost more than the rest of the statement (measured: docs/decisions.md, "Limits").
        op.execute("ALTER TABLE rate_limits ALTER COLUMN events SET STORAGE EXTERNAL")


def downgrade() -> None:
    op.drop_table('rate_limits')
