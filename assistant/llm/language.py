"""Which language a customer's text is in, among the ones the business speaks (English, Spanish, French,
German): the one whose everyday words it uses most."""

from __future__ import annotations

import re
from collections.abc import Collection

# Words common in short texts of each language and rare in the others', read without accents.
_MARKERS = {
    "en": re.compile(
        r"\b(?:the|i|my|to|for|at|can|book|what|when|is|are|you|please|tomorrow|hi|hello|thanks|cancel|"
        r"move|do|have|how|much|open|yes|next|on)\b"
    ),
    "es": re.compile(
        r"\b(?:hola|buenas?|buenos|quiero|quisiera|puedo|podria|reservar|reserva|cita|citas|clase|clases|"
        r"manana|hoy|lunes|martes|miercoles|jueves|viernes|sabado|domingo|gracias|por favor|cancelar|"
        r"cambiar|mover|horario|abren|cierran|cuanto|cuesta|precio|precios|tengo|mis?|para|las|una|el|los|"
        r"que|donde|estan|esta|semana|proxima|ayuda|tarde|noche|persona|necesito|si)\b"
    ),
    "fr": re.compile(
        r"\b(?:bonjour|salut|bonsoir|je|voudrais|veux|peux|reserver|rendez-vous|demain|aujourd'hui|lundi|"
        r"mardi|mercredi|jeudi|vendredi|samedi|dimanche|merci|annuler|deplacer|horaires|ouvert|ouvrez|"
        r"fermez|combien|coute|prix|cours|mes|mon|ma|pour|les|une|est|ou|suis|heure|heures|matin|soir|"
        r"s'il|plait|oui|vous|du|au)\b"
    ),
    "de": re.compile(
        r"\b(?:hallo|guten|ich|mochte|moechte|buchen|termin|termine|morgen|heute|montag|dienstag|mittwoch|"
        r"donnerstag|freitag|samstag|sonntag|danke|absagen|stornieren|verschieben|andern|offnungszeiten|"
        r"geoffnet|offen|wieviel|kostet|preis|preise|kurs|meine|mein|fur|um|uhr|einen|eine|der|das|ist|wo|"
        r"bitte|ja|nein|abends|morgens|nachmittags|habt|haben|sie|ihr|wann)\b"
    ),
}
_ACCENTS = str.maketrans(
    {
        **dict(zip("áàâäéèêëíîïóôöúùûüñçÿ", "aaaaeeeeiiiooouuuuncy", strict=True)),
        "ß": "ss",
        "¿": " ",
        "¡": " ",
    }
)


def unaccented(text: str) -> str:
    """The text with its accents off ("mañana" → "manana", "Öffnungszeiten" → "Offnungszeiten")."""
    return text.translate(_ACCENTS)


def language_of(text: str, spoken: Collection[str], otherwise: str = "en") -> str:
    """The spoken language whose words the text uses most; `otherwise` when none stands out ("ok", "7pm")."""
    folded = unaccented(text.casefold())
    counts = {
        language: len(_MARKERS[language].findall(folded)) for language in {"en", *spoken} & _MARKERS.keys()
    }
    best = max(counts.values())
    leaders = [language for language, count in counts.items() if count == best]
    return leaders[0] if best and len(leaders) == 1 else otherwise
