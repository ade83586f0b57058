"""Customers and appointments from the command line: add, import, list."""

from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from assistant.bookings import booking_store
from assistant.business import load_business
from assistant.cli import options
from assistant.database import open_database
from assistant.phones import to_e164
from assistant.settings import Settings
from storage.clock import system_clock
from storage.customers import CustomerDirectory

CUSTOMER_COLUMNS = ("phone", "name", "tier", "timezone")


def _customer(raw: dict[str, str | None], region: str) -> dict[str, str | None]:
    """One customer record, checked; ValueError says what is wrong."""
    record: dict[str, str | None] = {key: (raw.get(key) or "").strip() or None for key in CUSTOMER_COLUMNS}
    if not record["phone"]:
        raise ValueError("phone is missing")
    record["phone"] = to_e164(record["phone"], region)
    if record["timezone"]:
        try:
            ZoneInfo(record["timezone"])
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {record['timezone']!r}") from None
    return record


async def _save_customers(settings: Settings, records: list[dict[str, str | None]]) -> tuple[int, int]:
    async with open_database(settings) as sessions:
        return await CustomerDirectory(sessions, clock=system_clock).upsert(records)


async def _customers_add(settings: Settings, args: argparse.Namespace) -> int:
    raw = {"phone": args.phone, "name": args.name, "tier": args.tier, "timezone": args.timezone}
    try:
        record = _customer(raw, settings.phone_region)
    except ValueError as exc:
        print(f"sms-assistant: {exc}", file=sys.stderr)
        return 2
    created, _ = await _save_customers(settings, [record])
    print(f"{'added' if created else 'updated'} {record['phone']}")
    return 0


async def _customers_import(settings: Settings, args: argparse.Namespace) -> int:
    """Import a CSV (phone,name,tier,timezone); any bad row stops the import before anything is written."""
    try:
        with Path(args.file).open(newline="", encoding="utf-8-sig") as handle:
            rows = list(csv.DictReader(handle))
    except OSError as exc:
        print(f"sms-assistant: cannot read {args.file}: {exc.strerror}", file=sys.stderr)
        return 2
    records, errors = [], []
    for line, row in enumerate(rows, start=2):  # line 1 is the header
        try:
            records.append(_customer(row, settings.phone_region))
        except ValueError as exc:
            errors.append(f"{args.file}:{line}: {exc}")
    if not rows or "phone" not in rows[0]:
        errors.append(f"{args.file}: needs a header row with at least a 'phone' column")
    if errors:
        print("\n".join(errors) + "\nnothing was imported", file=sys.stderr)
        return 1
    created, updated = await _save_customers(settings, records)
    print(f"imported {len(records)} customers ({created} new, {updated} updated)")
    return 0


async def _appointments_list(settings: Settings, args: argparse.Namespace) -> int:
    business = load_business(settings.business_config)
    phone = options.phone(args.phone, settings, option="--phone") if args.phone else None
    async with open_database(settings) as sessions:
        store = booking_store(settings, sessions, business, system_clock)
        try:
            bookings = await store.listing(phone=phone)
        finally:
            await store.aclose()
        zone = business.zone
    rows: list[dict[str, Any]] = [
        {
            "id": booking.id,
            "phone": booking.phone,
            "service": booking.service,
            "start": booking.start.astimezone(zone).isoformat(timespec="minutes"),
            "status": booking.status,
        }
        for booking in bookings
    ]
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    for booking in bookings:
        start = business.timestamp(booking.start)
        print(f"#{booking.id:<5} {start}  {booking.service:<20} {booking.phone}  {booking.status}")
    if not bookings:
        print("no appointments yet", file=sys.stderr)
    return 0


def register(commands: Any) -> None:
    customers = commands.add_parser("customers", help="customer records")
    customer_commands = customers.add_subparsers(dest="customers_command", required=True, metavar="ACTION")
    add = customer_commands.add_parser("add", help="add or update one customer")
    add.add_argument("phone", help="the customer's number, written any way")
    add.add_argument("--name", help="what the assistant calls them")
    add.add_argument("--tier", help="a label the prompt can use, e.g. gold (new customers are standard)")
    add.add_argument("--timezone", help="IANA name, e.g. America/Chicago (else the business's zone)")
    add.set_defaults(handler=_customers_add)
    load = customer_commands.add_parser("import", help="add or update customers from a CSV file")
    load.add_argument("file", help="CSV with a header: phone,name,tier,timezone")
    load.set_defaults(handler=_customers_import)

    appointments = commands.add_parser("appointments", help="appointments")
    appointment_commands = appointments.add_subparsers(
        dest="appointments_command", required=True, metavar="ACTION"
    )
    listing = appointment_commands.add_parser("list", help="appointments by start time")
    listing.add_argument("--phone", help="only this customer's, written any way")
    listing.add_argument("--json", action="store_true", help="print JSON (starts in the business's zone)")
    listing.set_defaults(handler=_appointments_list)
