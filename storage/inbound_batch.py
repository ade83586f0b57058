"""The webhook's batch insert: a batch of inbound texts and their customers, sent as one JSON document.

However many texts a batch holds, the database gets the same few parameters (the rows travel as one JSON
array, encoded in one `json.dumps`), so SQLAlchemy binds a handful of values per batch instead of a dozen
per text, and the database sees one statement text for every batch size. On PostgreSQL the batch is one
call of the function `record_inbound_texts` (migration 0010), its own transaction: one round trip in all.
SQLite, which has no such functions, gets the function's two statements in a transaction.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, text
from sqlalchemy.ext.asyncio import AsyncEngine

from storage.tables import UTCDateTime

_NOW = bindparam("now", type_=UTCDateTime())

_RECORD_INBOUND_TEXTS = text(
    "SELECT message_id AS id, message_sid AS sid"
    " FROM record_inbound_texts(CAST(:rows AS json), CAST(:phones AS json), CAST(:now AS timestamptz))"
).bindparams(_NOW)

_SQLITE_CUSTOMERS = text(
    "INSERT INTO customers (phone, created_at, updated_at) SELECT value, :now, :now FROM json_each(:phones)"
    " WHERE true ON CONFLICT (phone) DO NOTHING"
).bindparams(_NOW)
# ORDER BY n: ids follow the order the texts came in, which is the order their turns read them.
_SQLITE_MESSAGES = text(
    "INSERT INTO messages (sid, direction, kind, customer_id, phone, from_number, to_number, body, media,"
    " status, turn_state, details, created_at, updated_at)"
    " SELECT t.sid, 'inbound', 'inbound', c.id, t.phone, t.phone, t.to_number, t.body, t.media,"
    " 'received', 'pending', t.details, :now, :now"
    " FROM (SELECT value ->> 'n' AS n, value ->> 'sid' AS sid, value ->> 'phone' AS phone,"
    " value ->> 'to_number' AS to_number, value ->> 'body' AS body, value -> 'media' AS media,"
    " value -> 'details' AS details FROM json_each(:rows)) AS t"
    " JOIN customers AS c ON c.phone = t.phone"
    " ORDER BY t.n ON CONFLICT (sid) DO NOTHING RETURNING id, sid"
).bindparams(_NOW)


async def insert_inbounds(
    engine: AsyncEngine, rows: Sequence[dict[str, Any]], now: datetime
) -> dict[str, int]:
    """Insert the texts (each a dict of sid, phone, to_number, body, media, details) whose sid is new,
    creating their customers first, in one transaction: the new rows' ids by sid. A sid already stored is
    left as it is."""
    values = {
        "phones": json.dumps(sorted({row["phone"] for row in rows})),  # one order for all: no deadlocks
        "rows": json.dumps([{"n": n, **row} for n, row in enumerate(rows)]),
        "now": now,
    }
    if engine.dialect.name == "postgresql":
        # A statement on its own is its own transaction: no BEGIN and COMMIT round trips around it.
        async with engine.connect() as connection:
            connection = await connection.execution_options(isolation_level="AUTOCOMMIT")
            return {row.sid: row.id for row in await connection.execute(_RECORD_INBOUND_TEXTS, values)}
    async with engine.begin() as connection:
        await connection.execute(_SQLITE_CUSTOMERS, values)
        return {row.sid: row.id for row in await connection.execute(_SQLITE_MESSAGES, values)}
