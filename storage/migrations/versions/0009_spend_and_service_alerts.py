"""spend and service alerts: LLM calls with their tokens and cost, texts by day, topic alerts

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03 16:50:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.tables

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "llm_calls",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("phone", sa.String(32), nullable=True),
        sa.Column("reply_id", sa.Integer(), nullable=True),
        sa.Column("model", sa.String(120), nullable=False),
        sa.Column("outcome", sa.String(12), nullable=False),
        sa.Column("latency_ms", sa.Integer(), nullable=False),
        sa.Column("prompt_tokens", sa.Integer(), nullable=False),
        sa.Column("completion_tokens", sa.Integer(), nullable=False),
        sa.Column("cost", sa.Double(), nullable=False),
        sa.Column(
            "created_at",
            storage.tables.UTCDateTime(timezone=True),
            server_default=sa.func.now(),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(["reply_id"], ["messages.id"], name=op.f("fk_llm_calls_reply_id_messages")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_llm_calls")),
    )
    op.create_index("ix_llm_calls_created_at", "llm_calls", ["created_at"])
    op.create_index("ix_messages_sent_at", "messages", ["sent_at"])
    op.create_index("ix_messages_created_at", "messages", ["created_at"])
    with op.batch_alter_table("staff_alerts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("topic", sa.String(80), nullable=True))
        batch_op.create_unique_constraint("uq_staff_alerts_topic", ["topic"])


def downgrade() -> None:
    with op.batch_alter_table("staff_alerts", schema=None) as batch_op:
        batch_op.drop_constraint("uq_staff_alerts_topic", type_="unique")
        batch_op.drop_column("topic")
    op.drop_index("ix_messages_created_at", table_name="messages")
    op.drop_index("ix_messages_sent_at", table_name="messages")
    op.drop_index("ix_llm_calls_created_at", table_name="llm_calls")
    op.drop_table("llm_calls")
