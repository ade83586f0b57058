"""The words that ask for each thing, per language (English, Spanish, French, German): booking, cancelling,
hours, thanks, corrections."""

from __future__ import annotations

import re
from dataclasses import dataclass

APPOINTMENT_ID = re.compile(
    r"(?:#\s*|\b(?:appointment|appt|booking|reservation|cita|reserva)\s*(?:#|no\.?|number|numero)?\s*)(?P<id>\d+)\b",
    re.IGNORECASE,
)
# "43" answering "which appointment?".
BARE_NUMBER = re.compile(r"^\W*#?\s*(\d{1,18})\W*$")


def words(*alternatives: str) -> re.Pattern[str]:
    return re.compile(r"\b(?:" + "|".join(alternatives) + r")\b", re.IGNORECASE)


# The intent patterns, one per line; a text's intent is the first of INTENTS found in it.
HANDOFF = words(
    "human",
    "real person",
    "a person",
    r"(?:talk|speak|chat) (?:to|with) some(?:one|body)",
    "staff",
    "agent",
    "representative",
    "manager",
    "operator",
)
CANCEL = words(
    r"cancel\w*",
    "call off",
    r"can'?t make it",
    "cannot make it",
    r"won'?t make it",
    r"can'?t come",
    r"unable to (?:make|come|attend)",
    "not coming",
)
MOVE = words("move", "reschedule", "re-schedule", "change", "push", "postpone", "switch", "shift")
# "what's my next appointment?": asking about one's own bookings, not making one (no booking verb).
MINE = re.compile(
    r"^(?!.*\b(?:book|schedule|reserve|sign up)\b).*(?:"
    r"\b(?:my|next)\s+(?:\w+\s+)?(?:appointments?|appts?|bookings?|reservations?|sessions?|class(?:es)?)\b"
    r"|\bwhat (?:\w+\s+)?(?:appointments?|bookings?|reservations?|sessions?|classes) (?:do|have) i\b"
    r"|\bwhen(?:'s| is| are)? my\b"
    r"|\b(?:do|have) i (?:have|got) (?:any(?:thing)?|an?)\b.*\b(?:booked|appointments?|bookings?|coming up)\b"
    r"|\bwhat (?:do|have) i (?:got|have)\b.*\b(?:booked|scheduled|coming up)\b"
    r"|\bam i (?:booked|scheduled|signed up)\b)",
    re.IGNORECASE,
)
# "my next class" names the soonest appointment ("to next friday" names a day, not one of them).
NEXT_ONE = re.compile(
    r"\bnext\s+(?:\w+\s+)?(?:appointment|appt|booking|reservation|session|class)\b", re.IGNORECASE
)
# "yoga tomorrow at 6?" has no verb: a service named with a day or time also counts as booking.
BOOK = words("book", "schedule", "reserve", r"sign (?:me )?up", "appointment", r"can i (?:get|take|join|do)")
HOURS = words("hours", "open", "opening", r"close[sd]?", "closing", "what time")
PRICES = words(
    r"prices?",
    "pricing",
    r"costs?",
    "how much",
    r"rates?",
    r"fees?",
    "services",
    "classes",
    "offer",
    "menu",
    "what do you have",
)
THANKS = words("thanks", r"thank (?:you|u)", "thx", "ty", "tysm", "appreciate it", "cheers")
GREETING = re.compile(
    r"^\W*(?:hi|hello|hey|hiya|howdy|yo|good (?:morning|afternoon|evening))\b", re.IGNORECASE
)
# Words that change what was being discussed rather than start something new ("actually make it 7").
CORRECTION = words(
    "actually",
    "instead",
    "rather",
    r"make it",
    r"how about",
    r"what about",
    r"(?:change|switch|move) it to",
    r"the \w+ one",
    r"no,? (?:at|on|make)",
)
# "where are you?" with no FAQ entry for it: the address is the answer.
WHERE = words(r"where (?:are|r) (?:you|u)", "located", "location", "address", "directions")
# "no" to a question that was not a YES question: nothing more to work out.
DECLINE = re.compile(r"^\W*(?:no|nope|nah|no thanks?|no thank you|never ?mind|forget it|not now)\W*$", re.I)
AGREE = re.compile(r"^\W*(?:yes|yeah|yep|yup|sure|ok|okay|great|perfect|sounds good)\W*$", re.IGNORECASE)

# Spanish, written without accents: texts are read with theirs taken off ("mañana" is read as "manana").
ES_HANDOFF = words(
    "persona", "humano", "agente", "encargado", "gerente", r"hablar con (?:alguien|una persona)"
)
ES_CANCEL = words(r"cancela\w*", "anular", r"no (?:puedo|podre|voy a poder) (?:ir|venir|asistir)")
ES_MOVE = words(r"cambia\w*", r"mover\w*", r"reprograma\w*", "pasar", "otro dia", "otra hora")
ES_MINE = re.compile(
    r"^(?!.*\breserv\w*\b).*(?:\bmis (?:citas|reservas|clases)\b|\bmi (?:proxima )?(?:cita|reserva|clase)\b"
    r"|\btengo (?:alguna |algo )?(?:cita|reserva|reservado)\b|\bcuando (?:es|tengo) mi\b)",
    re.IGNORECASE,
)
ES_NEXT_ONE = re.compile(r"\bproxima (?:cita|reserva|clase)\b", re.IGNORECASE)
ES_BOOK = words(r"reserva\w*", "agendar", "apartar", "una cita", r"apunta(?:r|rme)", r"quiero (?:una )?clase")
ES_HOURS = words("horario", "abren", "abierto", "cierran", "cerrado", r"a que hora")
ES_PRICES = words(
    r"precios?", r"cuanto (?:cuesta|vale|es|cobran)", "cuesta", r"tarifas?", "servicios", "clases", "ofrecen"
)
ES_THANKS = words("gracias", "muchas gracias", "mil gracias")
ES_GREETING = re.compile(r"^\W*(?:hola|buenas|buenos dias|buenas tardes|buenas noches)\b", re.IGNORECASE)
ES_CORRECTION = words("mejor", "en realidad", r"en (?:vez|lugar)", r"que sea", r"cambialo a", r"y si")
ES_WHERE = words(r"donde (?:estan|queda|se encuentran)", "direccion", "ubicacion", "como llego")
ES_DECLINE = re.compile(r"^\W*(?:no|no gracias|olvidalo|dejalo|ya no)\W*$", re.IGNORECASE)
ES_AGREE = re.compile(r"^\W*(?:si|vale|claro|perfecto|de acuerdo|ok|genial)\W*$", re.IGNORECASE)

# French and German, written without accents too ("deplacer", "Offnungszeiten").
FR_HANDOFF = words(
    "personne", "humain", "agent", "conseiller", "responsable", r"parler a (?:quelqu'un|une personne)"
)
FR_CANCEL = words(r"annul\w*", r"(?:je )?ne (?:peux|pourrai) pas (?:venir|y aller)")
FR_MOVE = words(r"deplac\w*", r"chang\w*", r"decal\w*", r"report\w*")
FR_MINE = re.compile(
    r"^(?!.*\breserv\w*\b).*(?:\bmes (?:rendez-vous|reservations|cours)\b"
    r"|\bmon (?:prochain )?(?:rendez-vous|cours)\b"
    r"|\bquand est mon\b|\bai-je (?:un )?rendez-vous\b)",
    re.IGNORECASE,
)
FR_NEXT_ONE = re.compile(r"\bprochain (?:rendez-vous|cours)\b", re.IGNORECASE)
FR_BOOK = words(r"reserv\w*", r"prendre (?:un )?rendez-vous", r"inscri\w*", "un rendez-vous")
FR_HOURS = words(r"horaires?", "ouvert", "ouvrez", "fermez", "ferme", r"a quelle heure")
FR_PRICES = words("prix", r"tarifs?", "combien", "coute", "cours", "proposez")
FR_THANKS = words("merci", "merci beaucoup")
FR_GREETING = re.compile(r"^\W*(?:bonjour|salut|bonsoir|coucou)\b", re.IGNORECASE)
FR_CORRECTION = words("plutot", "en fait", "finalement", r"a la place", "mettons", "et si")
FR_WHERE = words(r"ou (?:etes|est)-vous", r"ou vous trouvez", "adresse", r"comment (?:venir|y aller)")
FR_DECLINE = re.compile(r"^\W*(?:non|non merci|laisse tomber|pas maintenant)\W*$", re.IGNORECASE)
FR_AGREE = re.compile(r"^\W*(?:oui|d'accord|ok|parfait|super|tres bien)\W*$", re.IGNORECASE)

DE_HANDOFF = words("mensch", "mitarbeiter", "person", r"jemande?n? sprechen", "berater")
DE_CANCEL = words(r"absag\w*", r"storn\w*", r"kann nicht kommen", r"nicht kommen")
DE_MOVE = words(r"verschieb\w*", r"verleg\w*", r"a?e?ndern", r"umbuch\w*")
DE_MINE = re.compile(
    r"^(?!.*\bbuch\w*\b).*(?:\bmeine (?:termine|buchungen|kurse)\b"
    r"|\bmein (?:nachster |naechster )?(?:termin|kurs)\b"
    r"|\bwann ist mein\b|\bhabe ich (?:einen |noch einen )?termin\b)",
    re.IGNORECASE,
)
DE_NEXT_ONE = re.compile(r"\bn(?:a|ae)chste[rn]? (?:termin|kurs)\b", re.IGNORECASE)
DE_BOOK = words(r"buch\w*", r"reservier\w*", r"termin (?:machen|vereinbaren)")
DE_HOURS = words(
    r"o?e?ffnungszeiten", r"geo?e?ffnet", "offen", r"wann (?:habt|haben) (?:ihr|sie)", "schliessen"
)
DE_PRICES = words(r"preis\w*", "kostet", "kosten", "wie viel", "wieviel", "kurse")
DE_THANKS = words("danke", "vielen dank", "danke schon")
DE_GREETING = re.compile(r"^\W*(?:hallo|guten (?:morgen|tag|abend)|servus|moin)\b", re.IGNORECASE)
DE_CORRECTION = words("lieber", "eigentlich", "stattdessen", "besser", r"doch (?:lieber|um)")
DE_WHERE = words(r"wo (?:seid ihr|sind sie|ist das studio)", "adresse", "anfahrt", r"wie komme ich")
DE_DECLINE = re.compile(r"^\W*(?:nein|nein danke|lass mal|vergiss es|doch nicht)\W*$", re.IGNORECASE)
DE_AGREE = re.compile(r"^\W*(?:ja|ok|okay|gut|super|passt|genau|gerne)\W*$", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Patterns:
    """One language's patterns. A text's intent is the first of `intents` found in it."""

    intents: tuple[tuple[str, re.Pattern[str]], ...]
    small_talk: tuple[tuple[str, re.Pattern[str]], ...]
    correction: re.Pattern[str]
    next_one: re.Pattern[str]
    where: re.Pattern[str]
    decline: re.Pattern[str]
    agree: re.Pattern[str]


PATTERNS = {
    "en": Patterns(
        intents=(
            ("handoff", HANDOFF),
            ("cancel", CANCEL),
            ("move", MOVE),
            ("mine", MINE),
            ("book", BOOK),
            ("hours", HOURS),
            ("prices", PRICES),
        ),
        small_talk=(("thanks", THANKS), ("greeting", GREETING)),
        correction=CORRECTION,
        next_one=NEXT_ONE,
        where=WHERE,
        decline=DECLINE,
        agree=AGREE,
    ),
    "es": Patterns(
        intents=(
            ("handoff", ES_HANDOFF),
            ("cancel", ES_CANCEL),
            ("mine", ES_MINE),
            ("move", ES_MOVE),
            ("book", ES_BOOK),
            ("hours", ES_HOURS),
            ("prices", ES_PRICES),
        ),
        small_talk=(("thanks", ES_THANKS), ("greeting", ES_GREETING)),
        correction=ES_CORRECTION,
        next_one=ES_NEXT_ONE,
        where=ES_WHERE,
        decline=ES_DECLINE,
        agree=ES_AGREE,
    ),
    "fr": Patterns(
        intents=(
            ("handoff", FR_HANDOFF),
            ("cancel", FR_CANCEL),
            ("mine", FR_MINE),
            ("move", FR_MOVE),
            ("book", FR_BOOK),
            ("hours", FR_HOURS),
            ("prices", FR_PRICES),
        ),
        small_talk=(("thanks", FR_THANKS), ("greeting", FR_GREETING)),
        correction=FR_CORRECTION,
        next_one=FR_NEXT_ONE,
        where=FR_WHERE,
        decline=FR_DECLINE,
        agree=FR_AGREE,
    ),
    "de": Patterns(
        intents=(
            ("handoff", DE_HANDOFF),
            ("cancel", DE_CANCEL),
            ("mine", DE_MINE),
            ("move", DE_MOVE),
            ("book", DE_BOOK),
            ("hours", DE_HOURS),
            ("prices", DE_PRICES),
        ),
        small_talk=(("thanks", DE_THANKS), ("greeting", DE_GREETING)),
        correction=DE_CORRECTION,
        next_one=DE_NEXT_ONE,
        where=DE_WHERE,
        decline=DE_DECLINE,
        agree=DE_AGREE,
    ),
}
