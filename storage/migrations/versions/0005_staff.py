"""staff console: staff accounts, prompt template versions, takeovers, console keys

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-24 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.tables

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _now_column(name: str) -> sa.Column:
    return sa.Column(
        name,
        storage.tables.UTCDateTime(timezone=True),
        server_default=sa.text("(CURRENT_TIMESTAMP)"),
        nullable=False,
    )


def upgrade() -> None:
    op.create_table(
        "staff_accounts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=False),
        _now_column("created_at"),
        sa.Column("last_login_at", storage.tables.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_staff_accounts")),
        sa.UniqueConstraint("username", name=op.f("uq_staff_accounts_username")),
    )
    op.create_table(
        "prompt_versions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("author", sa.String(length=64), nullable=False),
        sa.Column("note", sa.String(length=200), nullable=False),
        _now_column("created_at"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_prompt_versions")),
    )
    with op.batch_alter_table("prompt_versions", schema=None) as batch_op:
        batch_op.create_index("ix_prompt_versions_name_id", ["name", "id"], unique=False)

    op.create_table(
        "takeovers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("phone", sa.String(length=32), nullable=False),
        sa.Column("staff", sa.String(length=64), nullable=False),
        sa.Column("started_at", storage.tables.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", storage.tables.UTCDateTime(timezone=True), nullable=True),
        sa.Column("released_at", storage.tables.UTCDateTime(timezone=True), nullable=True),
        sa.Column("released_by", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_takeovers")),
    )
    with op.batch_alter_table("takeovers", schema=None) as batch_op:
        batch_op.create_index("ix_takeovers_phone_id", ["phone", "id"], unique=False)

    op.create_table(
        "console_keys",
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("value", sa.String(length=128), nullable=False),
        _now_column("created_at"),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_console_keys")),
    )


def downgrade() -> None:
    op.drop_table("console_keys")
    with op.batch_alter_table("takeovers", schema=None) as batch_op:
        batch_op.drop_index("ix_takeovers_phone_id")
    op.drop_table("takeovers")
    with op.batch_alter_table("prompt_versions", schema=None) as batch_op:
        batch_op.drop_index("ix_prompt_versions_name_id")
    op.drop_table("prompt_versions")
    op.drop_table("staff_accounts")
