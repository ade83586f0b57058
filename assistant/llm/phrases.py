"""The offline engine's replies in each language it speaks (English, Spanish), and its days and times."""

from __future__ import annotations

from datetime import datetime

from actions.phrases import DAY_NAMES, local_clock, local_day

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
            "Thanks for the picture! I can't see images here. Reply AGENT and a person from our team will "
            "look at it, or tell me how I can help."
        ),
        "pictures": (
            "Thanks for the {count} pictures! I can't see images here. Reply AGENT and a person from our "
            "team will look at them, or tell me how I can help."
        ),
        "attachment": (
            "Thanks for the file! I can't open files here. Reply AGENT and a person from our team will "
            "look at it, or tell me how I can help."
        ),
        "attachments": (
            "Thanks for the {count} files! I can't open files here. Reply AGENT and a person from our "
            "team will look at them, or tell me how I can help."
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
        "picture": (
            "¡Gracias por la foto! Aqui no puedo ver imagenes. Responde AGENTE y una persona de nuestro "
            "equipo la mirara, o dime en que te puedo ayudar."
        ),
        "pictures": (
            "¡Gracias por las {count} fotos! Aqui no puedo ver imagenes. Responde AGENTE y una persona de "
            "nuestro equipo las mirara, o dime en que te puedo ayudar."
        ),
        "attachment": (
            "¡Gracias por el archivo! Aqui no puedo abrir archivos. Responde AGENTE y una persona de "
            "nuestro equipo lo mirara, o dime en que te puedo ayudar."
        ),
        "attachments": (
            "¡Gracias por los {count} archivos! Aqui no puedo abrir archivos. Responde AGENTE y una "
            "persona de nuestro equipo los mirara, o dime en que te puedo ayudar."
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
    "fr": {
        "greeting": (
            "Bonjour ! Ici {name}. Je peux vous donner nos horaires et nos prix, et réserver, déplacer ou "
            "annuler un rendez-vous. Que puis-je faire pour vous ?"
        ),
        "hours": "Horaires de {name} : {hours}.",
        "call_for_hours": "Appelez-nous{phone} pour nos horaires.",
        "service_line": "{service} coûte {price} et dure {minutes} minutes.",
        "offer": " Je vous en réserve un ? Donnez-moi un jour et une heure.",
        "call_for_services": "Appelez-nous{phone} pour savoir ce que nous proposons.",
        "we_offer": "Nous proposons {services}. Je vous en réserve un ?",
        "call_to_book": "Appelez-nous{phone} pour réserver.",
        "which_service": "Que voulez-vous réserver ? Nous proposons {services}.",
        "ask_day_time": "Quel jour et à quelle heure pour {service} ?",
        "ask_time": "À quelle heure le {day} pour {service} ?",
        "move_day_time": "À quel jour et quelle heure dois-je déplacer votre {what} ?",
        "move_time": "À quelle heure le {day} dois-je déplacer votre {what} ?",
        "moving": "Je déplace votre {what} au {when}. ",
        "cancelling": "J'annule votre {what}. ",
        "none_upcoming": (
            "Vous n'avez aucun rendez-vous à venir. Je vous en réserve un "
            "? Dites-moi le cours, le jour et l'heure."
        ),
        "next": "Votre prochain rendez-vous : {what} (#{id}){later}.",
        "more": " (et {count} autre(s) ensuite)",
        "upcoming": "Vos rendez-vous à venir : {listed}.",
        "urgent": "Pour une urgence, appelez-nous au {phone}. ",
        "thanks": "Avec plaisir ! Écrivez-nous quand vous voulez.",
        "picture": (
            "Merci pour la photo ! Je ne vois pas les images ici. Répondez AGENT et une personne de "
            "l'équipe la regardera, ou dites-moi comment vous aider."
        ),
        "pictures": (
            "Merci pour les {count} photos ! Je ne vois pas les images ici. Répondez AGENT et une "
            "personne de l'équipe les regardera, ou dites-moi comment vous aider."
        ),
        "attachment": (
            "Merci pour le fichier ! Je ne peux pas l'ouvrir ici. Répondez AGENT et une personne de "
            "l'équipe le regardera, ou dites-moi comment vous aider."
        ),
        "attachments": (
            "Merci pour les {count} fichiers ! Je ne peux pas les ouvrir ici. Répondez AGENT et une "
            "personne de l'équipe les regardera, ou dites-moi comment vous aider."
        ),
        "unknown": (
            "Désolé, je n'ai pas bien compris. Je peux vous aider avec nos horaires, nos prix, et réserver, "
            "déplacer ou annuler un rendez-vous. Si vous préférez parler à une personne, dites-le-moi."
        ),
        "cant_find": (
            "Je ne trouve pas de rendez-vous à venir à {verb}. Lequel est-ce ? Le numéro de votre message de "
            "confirmation (comme #42) m'aide."
        ),
        "which": "Quel rendez-vous dois-je {verb} ? {listed}",
        "verb_move": "déplacer",
        "verb_cancel": "annuler",
        "decline": "Pas de souci. Puis-je vous aider pour autre chose ?",
        "agree": "Parfait ! Puis-je vous aider pour autre chose ?",
        "where": "Nous sommes au {address}.",
        "named": "{service} le {when}",
        "numbered": "le rendez-vous #{id}",
        "at": "{day} à {clock}",
    },
    "de": {
        "greeting": (
            "Hallo! Hier ist {name}. Ich nenne Ihnen unsere Öffnungszeiten und Preise und kann Termine "
            "buchen, verschieben oder absagen. Was kann ich für Sie tun?"
        ),
        "hours": "Öffnungszeiten von {name}: {hours}.",
        "call_for_hours": "Rufen Sie uns{phone} an, um unsere Öffnungszeiten zu erfahren.",
        "service_line": "{service} kostet {price} und dauert {minutes} Minuten.",
        "offer": " Soll ich einen Termin buchen? Nennen Sie mir Tag und Uhrzeit.",
        "call_for_services": "Rufen Sie uns{phone} an, um unser Angebot zu erfahren.",
        "we_offer": "Wir bieten {services}. Soll ich etwas buchen?",
        "call_to_book": "Rufen Sie uns{phone} an, um zu buchen.",
        "which_service": "Was möchten Sie buchen? Wir bieten {services}.",
        "ask_day_time": "An welchem Tag und um wie viel Uhr möchten Sie {service}?",
        "ask_time": "Um wie viel Uhr am {day} möchten Sie {service}?",
        "move_day_time": "Auf welchen Tag und welche Uhrzeit soll ich Ihren Termin {what} verschieben?",
        "move_time": "Auf welche Uhrzeit am {day} soll ich Ihren Termin {what} verschieben?",
        "moving": "Ich verschiebe Ihren Termin {what} auf {when}. ",
        "cancelling": "Ich sage Ihren Termin {what} ab. ",
        "none_upcoming": (
            "Sie haben keine anstehenden Termine. Soll ich einen "
            "buchen? Nennen Sie mir Kurs, Tag und Uhrzeit."
        ),
        "next": "Ihr nächster Termin: {what} (#{id}){later}.",
        "more": " (danach noch {count})",
        "upcoming": "Ihre anstehenden Termine: {listed}.",
        "urgent": "In dringenden Fällen rufen Sie uns unter {phone} an. ",
        "thanks": "Gern geschehen! Schreiben Sie uns jederzeit.",
        "picture": (
            "Danke für das Foto! Bilder sehe ich hier nicht. Antworten Sie MENSCH, dann sieht es sich "
            "jemand aus unserem Team an. Oder wie kann ich helfen?"
        ),
        "pictures": (
            "Danke für die {count} Fotos! Bilder sehe ich hier nicht. Antworten Sie MENSCH, dann sieht "
            "sie sich jemand aus unserem Team an. Oder wie kann ich helfen?"
        ),
        "attachment": (
            "Danke für die Datei! Dateien öffne ich hier nicht. Antworten Sie MENSCH, dann sieht sie sich "
            "jemand aus unserem Team an. Oder wie kann ich helfen?"
        ),
        "attachments": (
            "Danke für die {count} Dateien! Dateien öffne ich hier nicht. Antworten Sie MENSCH, dann "
            "sieht sie sich jemand aus unserem Team an. Oder wie kann ich helfen?"
        ),
        "unknown": (
            "Entschuldigung, das habe ich nicht verstanden. Ich helfe bei Öffnungszeiten, Preisen und beim "
            "Buchen, Verschieben oder Absagen von Terminen. Möchten Sie mit einem Menschen sprechen, sagen "
            "Sie es."
        ),
        "cant_find": (
            "Ich finde keinen anstehenden Termin zum {verb}. Welcher ist es? Die Nummer aus Ihrer "
            "Bestätigung (etwa #42) hilft."
        ),
        "which": "Welchen Termin soll ich {verb}? {listed}",
        "verb_move": "verschieben",
        "verb_cancel": "absagen",
        "decline": "Kein Problem. Kann ich sonst noch helfen?",
        "agree": "Prima! Kann ich sonst noch helfen?",
        "where": "Sie finden uns hier: {address}.",
        "named": "{service} am {when}",
        "numbered": "Termin #{id}",
        "at": "{day} um {clock}",
    },
}
_ENGLISH_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def reply(language: str, key: str, **values: object) -> str:
    """The engine's reply `key` in `language` (English when it has none), filled in."""
    table = REPLIES.get(language, REPLIES["en"])
    return table.get(key, REPLIES["en"][key]).format(**values)


def when(language: str, moment: datetime) -> str:
    """'Tue Nov 24 at 6:00 PM', 'mar 24 nov a las 6:00 PM', 'Di 24 Nov um 18:00'."""
    clock = local_clock(language, moment)
    return reply(language, "at", day=local_day(language, moment.date()), clock=clock)


def hours(language: str, lines: list[str]) -> str:
    """Opening-hours lines ('Mon-Thu 6:00 AM-9:00 PM') with their day names in `language`."""
    joined = "; ".join(lines)
    for english, translated in zip(_ENGLISH_DAYS, DAY_NAMES.get(language, _ENGLISH_DAYS), strict=True):
        joined = joined.replace(english, translated)
    return joined
