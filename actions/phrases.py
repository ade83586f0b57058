"""What the booking actions tell the customer, in each language the assistant answers in."""

from __future__ import annotations

from datetime import date, datetime

# The languages with their own words here; any other gets English.
LANGUAGES = ("en", "es", "fr", "de")
# Short day and month names as customers text them, no accents (they cost a whole encoding).
DAY_NAMES = {
    "es": ("lun", "mar", "mie", "jue", "vie", "sab", "dom"),
    "fr": ("lun", "mar", "mer", "jeu", "ven", "sam", "dim"),
    "de": ("Mo", "Di", "Mi", "Do", "Fr", "Sa", "So"),
}
MONTH_NAMES = {
    "es": ("ene", "feb", "mar", "abr", "may", "jun", "jul", "ago", "sep", "oct", "nov", "dic"),
    "fr": ("janv", "fevr", "mars", "avr", "mai", "juin", "juil", "aout", "sept", "oct", "nov", "dec"),
    "de": ("Jan", "Feb", "Marz", "Apr", "Mai", "Jun", "Jul", "Aug", "Sep", "Okt", "Nov", "Dez"),
}
# Languages that write times on the 24-hour clock ("18:00", not "6:00 PM").
TWENTY_FOUR_HOUR = frozenset({"fr", "de"})

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
    "fr": {
        "booked": "Réservé : {what}.",
        "ask_book": (
            "{service} le {when} ? Répondez OUI pour réserver, ou proposez un autre jour ou une autre heure."
        ),
        "passed": "Cette heure est passée. Quel jour et quelle heure vous conviendraient ?",
        "ask_cancel": "Répondez OUI pour annuler {what}.",
        "ask_move": "Répondez OUI pour déplacer {service} (#{id}) du {old} au {new}.",
        "cancelled": "Annulé : {what}.",
        "moved": "Déplacé : {what}.",
        "already_cancelled": "Le rendez-vous #{id} est déjà annulé.",
        "nearest": "Créneaux libres les plus proches : {times}.",
        "kept_booking": "D'accord, je ne réserve pas. Un autre jour ou une autre heure ?",
        "kept": "D'accord, je ne vais pas {verb} : {what} reste prévu.",
        "kept_unknown": "D'accord, je ne vais pas {verb}. Autre chose ?",
        "verb_cancel": "l'annuler",
        "verb_move": "le déplacer",
        "handed_off": "J'ai demandé à un membre de notre équipe de vous répondre ici.",
    },
    "de": {
        "booked": "Gebucht: {what}.",
        "ask_book": (
            "{service} am {when}? Antworten Sie JA zum Buchen, oder nennen Sie einen anderen Tag oder eine "
            "andere Zeit."
        ),
        "passed": "Diese Zeit ist schon vorbei. Welcher Tag und welche Uhrzeit passen Ihnen?",
        "ask_cancel": "Antworten Sie JA, um {what} abzusagen.",
        "ask_move": "Antworten Sie JA, um {service} (#{id}) von {old} auf {new} zu verschieben.",
        "cancelled": "Abgesagt: {what}.",
        "moved": "Verschoben: {what}.",
        "already_cancelled": "Termin #{id} ist schon abgesagt.",
        "nearest": "Nächste freie Zeiten: {times}.",
        "kept_booking": "In Ordnung, ich buche nicht. Passt ein anderer Tag oder eine andere Zeit?",
        "kept": "In Ordnung, ich werde ihn nicht {verb}: {what} bleibt, wie er ist.",
        "kept_unknown": "In Ordnung, ich werde ihn nicht {verb}. Kann ich sonst helfen?",
        "verb_cancel": "absagen",
        "verb_move": "verschieben",
        "handed_off": "Ich habe jemanden aus unserem Team gebeten, Ihnen hier zu antworten.",
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


def local_clock(language: str, local: datetime) -> str:
    """'6:00 PM', or '18:00' in the languages of the 24-hour clock."""
    return f"{local:%H:%M}" if language in TWENTY_FOUR_HOUR else f"{local:%I:%M %p}".lstrip("0")


def local_time(language: str, local: datetime) -> str:
    """A local moment as a reply writes it: 'Tue Nov 24 6:00 PM', 'mar 24 nov 6:00 PM', 'Di 24 Nov 18:00'."""
    return f"{local_day(language, local.date())} {local_clock(language, local)}"
