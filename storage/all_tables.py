"""Imports every table module, so Alembic and create-all see the whole schema."""

from storage import chat_tables, staff_tables, tables
from storage.tables import Base

__all__ = ["Base", "chat_tables", "staff_tables", "tables"]
