"""What the booking actions tell the customer, in each language the assistant answers in."""

from __future__ import annotations

from datetime import date, datetime

# The languages with their own words here; any other gets English.
LANGUAGES = ("en", "es")
# Short day and month names as customers text them, no accents (they cost a whole encoding).
DAY_NAMES = {"es": ("lun", "mar", "mie", "jue", "vie", "sab", "dom")}
MONTH_NAMES = {"es": ("ene", "feb", "mar", "abr", "may", "jun", "jul", "ago", "sep", "oct", "nov", "dic")}

PHRASES: dict[str, dict[str, str]] = {
    "en": {
        "booked": "Booked: {what}.",
        "ask_book": "{service} on {when}? Reply YES to book it, or tell me another day or time.",
        "passed": "That time has passed. Which day and time would you like?",
        "ask_cancel": "Reply YES to cancel {what}.",
        "ask_move": "Reply YES to move {service} (#{id}) from {old} to {new}.",
        "cancelled": "Cancelled: {what}.",
        "moved": "Moved: {what}.",
        "already_cancelled": "#{id} is already cancelled.",
        "nearest": "Nearest open times: {times}.",
        "kept_booking": "OK, I won't book it. Would another day or time suit you?",
        "kept": "OK, I won't {verb} it: {what} stays as it is.",
        "kept_unknown": "OK, I won't {verb} it. Anything else I can help with?",
        "verb_cancel": "cancel",
        "verb_move": "move",
        "handed_off": "I've asked a member of our team to get back to you here.",
    },
    "es": {
        "booked": "Reservado: {what}.",
        "ask_book": "¿{service} el {when}? Responde SI para reservar, o dime otro dia u hora.",
        "passed": "Esa hora ya paso. ¿Que dia y hora te gustaria?",
        "ask_cancel": "Responde SI para cancelar {what}.",
        "ask_move": "Responde SI para cambiar {service} (#{id}) del {old} al {new}.",
        "cancelled": "Cancelada: {what}.",
        "moved": "Cambiada: {what}.",
        "already_cancelled": "La cita #{id} ya esta cancelada.",
        "nearest": "Horas libres mas cercanas: {times}.",
        "kept_booking": "De acuerdo, no la reservo. ¿Te va bien otro dia u hora?",
        "kept": "De acuerdo, no la voy a {verb}: {what} sigue igual.",
        "kept_unknown": "De acuerdo, no la voy a {verb}. ¿Te ayudo con algo mas?",
        "verb_cancel": "cancelar",
        "verb_move": "cambiar",
        "handed_off": "He pedido a alguien de nuestro equipo que te responda por aqui.",
    },
}


def say(language: str, key: str, **values: object) -> str:
    """The phrase `key` in `language` (English when it has none), filled in."""
    table = PHRASES.get(language, PHRASES["en"])
    return table.get(key, PHRASES["en"][key]).format(**values)


def local_day(language: str, moment: date) -> str:
    """A local date as a reply writes it: 'Tue Nov 24', or 'mar 24 nov'."""
    if language not in DAY_NAMES:
        return f"{moment:%a %b} {moment.day}"
    return f"{DAY_NAMES[language][moment.weekday()]} {moment.day} {MONTH_NAMES[language][moment.month - 1]}"


def local_time(language: str, local: datetime) -> str:
    """A local moment as a reply writes it: 'Tue Nov 24 6:00 PM', or 'mar 24 nov 6:00 PM'."""
    clock = f"{local:%I:%M %p}".lstrip("0")
    return f"{local_day(language, local.date())} {clock}"
