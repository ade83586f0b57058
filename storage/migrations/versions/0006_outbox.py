"""outbox: send attempts and the next try of each outbound text; status and SID columns wide enough

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02 17:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.tables

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.add_column(sa.Column("attempts", sa.Integer(), server_default="0", nullable=False))
        batch_op.add_column(
            sa.Column("next_attempt_at", storage.tables.UTCDateTime(timezone=True), nullable=True)
        )
        # Twilio's longest status is "partially_delivered" (19 characters).
        batch_op.alter_column("status", existing_type=sa.String(16), type_=sa.String(24))
        batch_op.create_index("ix_messages_status_next_attempt_at", ["status", "next_attempt_at"])
    with op.batch_alter_table("message_events", schema=None) as batch_op:
        batch_op.alter_column("status", existing_type=sa.String(16), type_=sa.String(24))


def downgrade() -> None:
    with op.batch_alter_table("message_events", schema=None) as batch_op:
        batch_op.alter_column("status", existing_type=sa.String(24), type_=sa.String(16))
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.drop_index("ix_messages_status_next_attempt_at")
        batch_op.alter_column("status", existing_type=sa.String(24), type_=sa.String(16))
        batch_op.drop_column("next_attempt_at")
        batch_op.drop_column("attempts")
