"""Which language a customer's text is in, among the ones the business speaks (English or Spanish)."""

from __future__ import annotations

import re
from collections.abc import Collection

# Words common in short Spanish texts and absent from English ones; a few English ones to weigh against.
_SPANISH = re.compile(
    r"\b(?:hola|buenas?|buenos|quiero|quisiera|puedo|podria|reservar|reserva|cita|citas|clase|clases|manana|"
    r"hoy|lunes|martes|miercoles|jueves|viernes|sabado|domingo|gracias|por favor|cancelar|cambiar|mover|"
    r"horario|abren|cierran|cuanto|cuesta|precio|precios|tengo|mis?|para|las|una|el|los|que|donde|estan|"
    r"esta|semana|proxima|ayuda|tarde|noche|persona|necesito|si)\b"
)
_ENGLISH = re.compile(
    r"\b(?:the|i|my|to|for|at|can|book|what|when|is|are|you|please|tomorrow|hi|hello|thanks|cancel|move|"
    r"do|have|how|much|open|yes|next|on)\b"
)
_ACCENTS = str.maketrans("áéíóúüñ¿¡", "aeiouun  ")


def language_of(text: str, spoken: Collection[str] = ("en", "es"), otherwise: str = "en") -> str:
    """'es' when the text reads as Spanish and the business speaks it, 'en' when it reads as English, and
    `otherwise` when it can't tell ("no", "ok", "7pm")."""
    if "es" not in spoken:
        return "en"
    folded = text.casefold().translate(_ACCENTS)
    spanish, english = len(_SPANISH.findall(folded)), len(_ENGLISH.findall(folded))
    if spanish == english:
        return otherwise
    return "es" if spanish > english else "en"
