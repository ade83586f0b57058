"""message price: what each outbound text costs, estimated until Twilio reports its own price

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03 15:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.add_column(sa.Column("price", sa.Double(), nullable=True))
        batch_op.add_column(sa.Column("price_source", sa.String(8), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.drop_column("price_source")
        batch_op.drop_column("price")
