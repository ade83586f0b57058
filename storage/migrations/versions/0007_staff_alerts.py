"""staff alerts: handoffs, held conversations and texts that could not go, told to staff once

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03 15:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.tables

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    moment = storage.tables.UTCDateTime(timezone=True)
    op.create_table(
        "staff_alerts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("phone", sa.String(32), nullable=False),
        sa.Column("reason", sa.String(200), nullable=False),
        sa.Column("created_at", moment, server_default=sa.func.now(), nullable=False),
        sa.Column("claimed_until", moment, nullable=True),
        sa.Column("texted_at", moment, nullable=True),
        sa.Column("posted_at", moment, nullable=True),
        sa.Column("notified_at", moment, nullable=True),
        sa.Column("skipped", sa.Boolean(), server_default="0", nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_staff_alerts_notified_at", "staff_alerts", ["notified_at"])
    op.create_index("ix_staff_alerts_phone_notified_at", "staff_alerts", ["phone", "notified_at"])


def downgrade() -> None:
    op.drop_index("ix_staff_alerts_phone_notified_at", table_name="staff_alerts")
    op.drop_index("ix_staff_alerts_notified_at", table_name="staff_alerts")
    op.drop_table("staff_alerts")
