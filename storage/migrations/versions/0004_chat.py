"""chat users, chat messages, phone verification codes, notification decisions

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23 18:40:48.261677
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.tables

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "chat_users",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("external_id", sa.String(length=128), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=True),
        sa.Column("phone", sa.String(length=32), nullable=True),
        sa.Column("sms_opt_in", sa.Boolean(), server_default="0", nullable=False),
        sa.Column("timezone", sa.String(length=64), nullable=True),
        sa.Column("phone_verified_at", storage.tables.UTCDateTime(timezone=True), nullable=True),
        sa.Column(
            "created_at",
            storage.tables.UTCDateTime(timezone=True),
            server_default=sa.text("(CURRENT_TIMESTAMP)"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            storage.tables.UTCDateTime(timezone=True),
            server_default=sa.text("(CURRENT_TIMESTAMP)"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_chat_users")),
        sa.UniqueConstraint("external_id", name=op.f("uq_chat_users_external_id")),
    )
    op.create_table(
        "chat_phone_verifications",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("phone", sa.String(length=32), nullable=False),
        sa.Column("salt", sa.String(length=32), nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("expires_at", storage.tables.UTCDateTime(timezone=True), nullable=False),
        sa.Column("verified_at", storage.tables.UTCDateTime(timezone=True), nullable=True),
        sa.Column("message_id", sa.Integer(), nullable=True),
        sa.Column(
            "created_at",
            storage.tables.UTCDateTime(timezone=True),
            server_default=sa.text("(CURRENT_TIMESTAMP)"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["message_id"], ["messages.id"], name=op.f("fk_chat_phone_verifications_message_id_messages")
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["chat_users.id"], name=op.f("fk_chat_phone_verifications_user_id_chat_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_chat_phone_verifications")),
    )
    with op.batch_alter_table("chat_phone_verifications", schema=None) as batch_op:
        batch_op.create_index("ix_chat_phone_verifications_user_id_id", ["user_id", "id"], unique=False)

    op.create_table(
        "chat_messages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("chat_id", sa.String(length=128), nullable=False),
        sa.Column("sender_id", sa.String(length=128), nullable=False),
        sa.Column("recipient_id", sa.String(length=128), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("idempotency_key", sa.String(length=128), nullable=True),
        sa.Column("hold", sa.String(length=12), nullable=True),
        sa.Column("release_at", storage.tables.UTCDateTime(timezone=True), nullable=True),
        sa.Column("notified_by_id", sa.Integer(), nullable=True),
        sa.Column("read_at", storage.tables.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", storage.tables.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_chat_messages")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_chat_messages_idempotency_key")),
    )
    with op.batch_alter_table("chat_messages", schema=None) as batch_op:
        batch_op.create_index("ix_chat_messages_hold_release_at", ["hold", "release_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_chat_messages_recipient_id"), ["recipient_id"], unique=False)

    op.create_table(
        "notification_decisions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.String(length=128), nullable=False),
        sa.Column("kind", sa.String(length=12), nullable=False),
        sa.Column("chat_message_id", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("reason", sa.String(length=24), nullable=False),
        sa.Column("send_at", storage.tables.UTCDateTime(timezone=True), nullable=True),
        sa.Column("message_id", sa.Integer(), nullable=True),
        sa.Column("sms_sid", sa.String(length=64), nullable=True),
        sa.Column("created_at", storage.tables.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["chat_message_id"],
            ["chat_messages.id"],
            name=op.f("fk_notification_decisions_chat_message_id_chat_messages"),
        ),
        sa.ForeignKeyConstraint(
            ["message_id"], ["messages.id"], name=op.f("fk_notification_decisions_message_id_messages")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notification_decisions")),
    )
    with op.batch_alter_table("notification_decisions", schema=None) as batch_op:
        batch_op.create_index(
            "ix_notification_decisions_user_id_status_created_at",
            ["user_id", "status", "created_at"],
            unique=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("notification_decisions", schema=None) as batch_op:
        batch_op.drop_index("ix_notification_decisions_user_id_status_created_at")
    op.drop_table("notification_decisions")
    with op.batch_alter_table("chat_messages", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_chat_messages_recipient_id"))
        batch_op.drop_index("ix_chat_messages_hold_release_at")
    op.drop_table("chat_messages")
    with op.batch_alter_table("chat_phone_verifications", schema=None) as batch_op:
        batch_op.drop_index("ix_chat_phone_verifications_user_id_id")
    op.drop_table("chat_phone_verifications")
    op.drop_table("chat_users")
