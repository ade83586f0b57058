"""The offline engine's replies in each language it speaks (English, Spanish), and its days and times."""

from __future__ import annotations

from datetime import datetime

from actions.phrases import local_day

REPLIES: dict[str, dict[str, str]] = {
    "en": {
        "greeting": (
            "Hi! This is {name}. I can tell you our hours and prices, and book, move or cancel an "
            "appointment for you. What can I do for you?"
        ),
        "hours": "{name} hours: {hours}.",
        "call_for_hours": "Please call us{phone} for our opening hours.",
        "service_line": "{service} is {price} for {minutes} minutes.",
        "offer": " Want me to book one? Tell me a day and time.",
        "call_for_services": "Please call us{phone} to hear what we offer.",
        "we_offer": "We offer {services}. Want me to book one?",
        "call_to_book": "Please call us{phone} to book.",
        "which_service": "Which would you like to book? We offer {services}.",
        "ask_day_time": "What day and time would you like for {service}?",
        "ask_time": "What time on {day} would you like for {service}?",
        "move_day_time": "What day and time should I move your {what} to?",
        "move_time": "What time on {day} should I move your {what} to?",
        "moving": "Let me move your {what} to {when}. ",
        "cancelling": "Let me cancel your {what}. ",
        "none_upcoming": (
            "You have no upcoming appointments. Want to book one? Tell me a service, day and time."
        ),
        "next": "Your next appointment is {what} (#{id}){later}.",
        "more": " (and {count} more after it)",
        "upcoming": "Your upcoming appointments: {listed}.",
        "urgent": "For anything urgent, call us at {phone}. ",
        "thanks": "You're welcome! Text us anytime.",
        "picture": (
            "Thanks for the picture! A person from our team will take a look. What can I help you with?"
        ),
        "attachment": (
            "Thanks for the attachment! A person from our team will take a look. What can I help you with?"
        ),
        "unknown": (
            "Sorry, I didn't quite get that. I can help with our hours, prices, and booking, moving or "
            "cancelling an appointment. If you'd rather talk to a person, just say so."
        ),
        "cant_find": (
            "I can't find an upcoming appointment to {verb}. Which one do you mean? The number from your "
            "confirmation text (like #42) helps."
        ),
        "which": "Which appointment should I {verb}? {listed}",
        "verb_move": "move",
        "verb_cancel": "cancel",
        "decline": "No problem. Is there anything else I can help with?",
        "agree": "Great! Is there anything else I can help with?",
        "where": "We're at {address}.",
        "named": "{service} on {when}",
        "numbered": "appointment #{id}",
        "at": "{day} at {clock}",
    },
    "es": {
        "greeting": (
            "¡Hola! Somos {name}. Puedo darte nuestro horario y precios, y reservar, cambiar o cancelar una "
            "cita. ¿En que te puedo ayudar?"
        ),
        "hours": "Horario de {name}: {hours}.",
        "call_for_hours": "Llamanos{phone} para saber nuestro horario.",
        "service_line": "{service} cuesta {price} y dura {minutes} minutos.",
        "offer": " ¿Quieres que te reserve? Dime dia y hora.",
        "call_for_services": "Llamanos{phone} para saber lo que ofrecemos.",
        "we_offer": "Ofrecemos {services}. ¿Quieres reservar?",
        "call_to_book": "Llamanos{phone} para reservar.",
        "which_service": "¿Que te gustaria reservar? Ofrecemos {services}.",
        "ask_day_time": "¿Que dia y a que hora te gustaria {service}?",
        "ask_time": "¿A que hora el {day} te gustaria {service}?",
        "move_day_time": "¿A que dia y hora cambio tu {what}?",
        "move_time": "¿A que hora el {day} cambio tu {what}?",
        "moving": "Voy a cambiar tu {what} al {when}. ",
        "cancelling": "Voy a cancelar tu {what}. ",
        "none_upcoming": "No tienes citas proximas. ¿Quieres reservar una? Dime servicio, dia y hora.",
        "next": "Tu proxima cita es {what} (#{id}){later}.",
        "more": " (y {count} mas despues)",
        "upcoming": "Tus proximas citas: {listed}.",
        "urgent": "Para algo urgente, llamanos al {phone}. ",
        "thanks": "¡De nada! Escribenos cuando quieras.",
        "picture": "¡Gracias por la foto! Alguien de nuestro equipo la revisara. ¿En que te puedo ayudar?",
        "attachment": (
            "¡Gracias por el archivo! Alguien de nuestro equipo lo revisara. ¿En que te puedo ayudar?"
        ),
        "unknown": (
            "Perdona, no te he entendido. Puedo ayudarte con nuestro horario, precios, y reservar, cambiar o "
            "cancelar una cita. Si prefieres hablar con una persona, dimelo."
        ),
        "cant_find": (
            "No encuentro una cita proxima para {verb}. ¿Cual es? El numero de tu mensaje de confirmacion "
            "(como #42) ayuda."
        ),
        "which": "¿Que cita quieres {verb}? {listed}",
        "verb_move": "cambiar",
        "verb_cancel": "cancelar",
        "decline": "No pasa nada. ¿Te ayudo con algo mas?",
        "agree": "¡Genial! ¿Te ayudo con algo mas?",
        "where": "Estamos en {address}.",
        "named": "{service} el {when}",
        "numbered": "la cita #{id}",
        "at": "{day} a las {clock}",
    },
}
_HOURS_ES = {"Mon": "lun", "Tue": "mar", "Wed": "mie", "Thu": "jue", "Fri": "vie", "Sat": "sab", "Sun": "dom"}


def reply(language: str, key: str, **values: object) -> str:
    """The engine's reply `key` in `language` (English when it has none), filled in."""
    table = REPLIES.get(language, REPLIES["en"])
    return table.get(key, REPLIES["en"][key]).format(**values)


def when(language: str, moment: datetime) -> str:
    """'Tue Nov 24 at 6:00 PM', or 'mar 24 nov a las 6:00 PM'."""
    clock = f"{moment:%I:%M %p}".lstrip("0")
    return reply(language, "at", day=local_day(language, moment.date()), clock=clock)


def hours(language: str, lines: list[str]) -> str:
    """Opening-hours lines ('Mon-Thu 6:00 AM-9:00 PM') with their day names in `language`."""
    joined = "; ".join(lines)
    if language != "es":
        return joined
    for english, spanish in _HOURS_ES.items():
        joined = joined.replace(english, spanish)
    return joined
