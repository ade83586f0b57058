"""record inbound texts: the webhook's batch insert as one PostgreSQL function, one round trip per batch

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-04 18:40:00

The function inserts a batch's customers, then its texts, in one call outside an explicit transaction, so
a batch costs one round trip (and its commit) instead of BEGIN, two INSERTs and COMMIT. Its statements run
in turn, so the texts' INSERT sees the customers the first one created, which one statement with a
data-modifying CTE would not. A change to the columns it writes replaces it in a later revision.
SQLite has no such functions: there `storage.inbound_batch` sends the two statements itself.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

RECORD_INBOUND_TEXTS = """
CREATE FUNCTION record_inbound_texts(batch json, batch_phones json, received_at timestamptz)
RETURNS TABLE (message_id integer, message_sid text)
LANGUAGE sql VOLATILE AS $$
INSERT INTO customers (phone, created_at, updated_at)
    SELECT p.phone, received_at, received_at FROM json_array_elements_text(batch_phones) AS p(phone)
    ON CONFLICT (phone) DO NOTHING;
INSERT INTO messages (sid, direction, kind, customer_id, phone, from_number, to_number, body, media, status,
                      turn_state, details, created_at, updated_at)
    SELECT t.sid, 'inbound', 'inbound', c.id, t.phone, t.phone, t.to_number, t.body, t.media, 'received',
           'pending', t.details, received_at, received_at
    FROM json_to_recordset(batch)
         AS t(n int, sid text, phone text, to_number text, body text, media json, details json)
    JOIN customers AS c ON c.phone = t.phone
    ORDER BY t.n
    ON CONFLICT (sid) DO NOTHING
    RETURNING messages.id, messages.sid::text;
$$
"""


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(RECORD_INBOUND_TEXTS)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION record_inbound_texts(json, json, timestamptz)")
