"""The webhook's batch insert: a batch of inbound texts and their customers, sent as one JSON document.

However many texts a batch holds, each statement takes the same few parameters (the rows travel as one
JSON array, encoded in one `json.dumps`), so SQLAlchemy binds a handful of values per batch instead of a
dozen per text, and the database sees one statement text for every batch size.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import TextClause, bindparam, text
from sqlalchemy.ext.asyncio import AsyncConnection

from storage.tables import UTCDateTime

# Each dialect's way of reading the rows (a JSON array of objects) as a table `t`.
_ROWS = {
    "postgresql": (
        "json_to_recordset(CAST(:rows AS json))"
        " AS t(n int, sid text, phone text, to_number text, body text, media json, details json)"
    ),
    "sqlite": (
        "(SELECT value ->> 'n' AS n, value ->> 'sid' AS sid, value ->> 'phone' AS phone,"
        " value ->> 'to_number' AS to_number, value ->> 'body' AS body, value -> 'media' AS media,"
        " value -> 'details' AS details FROM json_each(:rows)) AS t"
    ),
}
_PHONES = {
    "postgresql": "json_array_elements_text(CAST(:phones AS json)) AS p(phone)",
    "sqlite": "(SELECT value AS phone FROM json_each(:phones)) AS p",
}
_NOW = {"postgresql": "CAST(:now AS timestamptz)", "sqlite": ":now"}


@cache
def _statements(dialect: str) -> tuple[TextClause, TextClause]:
    """The customers' and the texts' INSERT for one dialect, each built once."""
    now = _NOW[dialect]
    customers = text(
        f"INSERT INTO customers (phone, created_at, updated_at) SELECT p.phone, {now}, {now}"
        f" FROM {_PHONES[dialect]} WHERE true ON CONFLICT (phone) DO NOTHING"
    )
    # ORDER BY n: ids follow the order the texts came in, which is the order their turns read them.
    messages = text(
        "INSERT INTO messages (sid, direction, kind, customer_id, phone, from_number, to_number, body, media,"
        " status, turn_state, details, created_at, updated_at)"
        " SELECT t.sid, 'inbound', 'inbound', c.id, t.phone, t.phone, t.to_number, t.body, t.media,"
        f" 'received', 'pending', t.details, {now}, {now}"
        f" FROM {_ROWS[dialect]} JOIN customers AS c ON c.phone = t.phone"
        " ORDER BY t.n ON CONFLICT (sid) DO NOTHING RETURNING id, sid"
    )
    typed_now = bindparam("now", type_=UTCDateTime())
    return customers.bindparams(typed_now), messages.bindparams(typed_now)


async def insert_inbounds(
    connection: AsyncConnection, rows: Sequence[dict[str, Any]], now: datetime
) -> dict[str, int]:
    """Insert the texts (each a dict of sid, phone, to_number, body, media, details) whose sid is new,
    creating their customers first: the new rows' ids by sid. A sid already stored is left as it is."""
    customers, messages = _statements(connection.dialect.name)
    phones = sorted({row["phone"] for row in rows})  # one order for every batch: no deadlocks
    await connection.execute(customers, {"phones": json.dumps(phones), "now": now})
    document = json.dumps([{"n": n, **row} for n, row in enumerate(rows)])
    return {row.sid: row.id for row in await connection.execute(messages, {"rows": document, "now": now})}
