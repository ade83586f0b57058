"""What an inbound text is, as a whole-message SMS keyword: opt-out, opt-in, help, or none of them."""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Literal

# Plain-language revocation lives next door; the gate imports both halves from here.
from assistant.revocation import PhraseMatch, classify_phrase

__all__ = [
    "BUILT_IN_PACKS",
    "CONDITIONAL_OPT_INS",
    "KeywordMatch",
    "KeywordPack",
    "KeywordSet",
    "PhraseMatch",
    "classify_phrase",
    "normalise",
]

Kind = Literal["opt_out", "opt_in", "help"]

# When one word has two meanings (across packs, or a business's extra words), the first kind here wins:
# opt-out beats everything (STOP wins), and an unclear word should explain rather than re-subscribe.
PRECEDENCE: tuple[Kind, ...] = ("opt_out", "help", "opt_in")

# Affirmatives are ordinary conversation ("yes, 5pm works"); they opt in only a number that is opted out.
CONDITIONAL_OPT_INS = frozenset({"YES", "SI", "OUI", "JA"})


def normalise(text: str) -> str:
    """Fold a whole message to the stored keyword form: 'Opt-Out!' -> 'OPT OUT', 'ＳＴＯＰ' -> 'STOP'."""
    if text.isascii():  # most texts: the Unicode folds below change nothing but the dash and underscore
        words = text.replace("-", " ").replace("_", " ").upper().split()
    else:
        words = _unicode_fold(text).upper().split()  # split() also collapses every Unicode space
    folded = " ".join(words)
    # Surrounding punctuation, symbols and emoji carry no meaning: "¡BAJA!", "'stop'", "stop 🛑".
    start = next((i for i, char in enumerate(folded) if char.isalnum()), len(folded))
    end = next((i for i in range(len(folded), 0, -1) if folded[i - 1].isalnum()), start)
    return folded[start:end]


def _unicode_fold(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).casefold()  # fullwidth and ligatures first, then case
    kept = []
    for char in unicodedata.normalize("NFD", text):
        category = unicodedata.category(char)
        if category in ("Mn", "Me", "Cf"):
            continue  # accents, emoji variation selectors, zero-width and bidi controls
        # Dashes and underscores join words ("OPT-OUT", "opt_out"): they read as the space between them.
        kept.append(" " if category in ("Pd", "Pc") else char)
    return "".join(kept)


@dataclass(frozen=True)
class KeywordPack:
    """One language's keywords, each stored normalised."""

    language: str
    opt_out: frozenset[str]
    opt_in: frozenset[str]
    help: frozenset[str]

    @classmethod
    def of(
        cls, language: str, opt_out: Iterable[str] = (), opt_in: Iterable[str] = (), help: Iterable[str] = ()
    ) -> KeywordPack:
        """Build a pack from words as people type them; ValueError for a word that folds to nothing."""
        return cls(language, _fold_all(opt_out), _fold_all(opt_in), _fold_all(help))


def _fold_all(words: Iterable[str]) -> frozenset[str]:
    if isinstance(words, str):
        words = (words,)  # one word, not its letters
    folded = {word: normalise(word) for word in words}
    for word, form in folded.items():
        if not form:
            raise ValueError(f"keyword {word!r} has no letters or digits")
    return frozenset(folded.values())


# The built-in packs, written as people type them and normalised on load ("ARRÊT" is stored as "ARRET").
# Sources:
# - en: Twilio's default opt-out list (STOP, STOPALL, UNSUBSCRIBE, CANCEL, END, QUIT, REVOKE, OPTOUT; Twilio
#   Advanced Opt-Out docs, 2025) and opt-in/help lists (START, UNSTOP, YES; HELP, INFO); the FCC's seven
#   revocation words (stop, quit, end, revoke, opt out, cancel, unsubscribe; 47 CFR 64.1200(a)(10), in force
#   2025-04-11); "STOP ALL" (Telnyx defaults), UNSUB (CWTA mandatory-keyword examples), REMOVE (AWS End User
#   Messaging's required opt-out list).
# - es: ALTO and AYUDA are the carrier keywords Twilio requires for Spanish short codes; BAJA, PARAR and
#   CANCELAR are the common Spanish opt-outs; "NO MAS" is the FCC-rule commentators' example of a Spanish
#   revocation (CompliancePoint, 2025).
# - fr: ARRET and AIDE are mandatory on every Canadian short code (CWTA guidelines, via Twilio and Infobip);
#   Twilio also honours ARRETE and ARRETT (Twilio Proxy opt-out docs).
# - de: STOPP is the German opt-out word on STOP codes (Brevo); the rest are plain German for the same acts.
BUILT_IN_PACKS: dict[str, KeywordPack] = {
    pack.language: pack
    for pack in (
        KeywordPack.of(
            "en",
            opt_out=[
                "STOP",
                "STOPALL",
                "STOP ALL",
                "UNSUBSCRIBE",
                "UNSUB",
                "CANCEL",
                "END",
                "QUIT",
                "REVOKE",
                "OPTOUT",
                "OPT OUT",
                "REMOVE",
            ],
            opt_in=["START", "UNSTOP", "YES"],
            help=["HELP", "INFO"],
        ),
        KeywordPack.of(
            "es",
            opt_out=["BAJA", "PARAR", "ALTO", "DETENER", "CANCELAR", "DARSE DE BAJA", "NO MÁS"],
            opt_in=["ALTA", "INICIAR", "COMENZAR", "SÍ"],
            help=["AYUDA"],
        ),
        KeywordPack.of(
            "fr",
            opt_out=["ARRÊT", "ARRÊTE", "ARRETT", "STOP", "DÉSABONNER", "DÉSINSCRIRE"],
            opt_in=["DÉMARRER", "COMMENCER", "OUI"],
            help=["AIDE"],
        ),
        KeywordPack.of(
            "de",
            opt_out=["STOPP", "ABMELDEN", "BEENDEN", "ABBESTELLEN"],
            opt_in=["ANMELDEN", "STARTEN", "JA"],
            help=["HILFE"],
        ),
    )
}

# US carriers and the FCC require the English words whatever else a business offers (a French-only Canadian
# program must still answer STOP and HELP), so English cannot be switched off.
ALWAYS_ON = "en"

# The language recorded for words a business adds in its configuration.
CUSTOM = "custom"


@dataclass(frozen=True)
class KeywordMatch:
    """A whole message that is a keyword: what kind, which normalised word, and from which pack."""

    kind: Kind
    keyword: str
    language: str


@dataclass(frozen=True)
class KeywordSet:
    """The packs a business has enabled (English always among them), in the order they are consulted."""

    packs: tuple[KeywordPack, ...]

    @classmethod
    def build(
        cls,
        languages: Sequence[str] = ("en", "es", "fr", "de"),
        extra_opt_out: Iterable[str] = (),
        extra_opt_in: Iterable[str] = (),
        extra_help: Iterable[str] = (),
    ) -> KeywordSet:
        """Combine the named built-in packs and a business's extra words; ValueError for unknown languages."""
        codes = [code.strip().lower() for code in languages]
        unknown = [code for code in codes if code not in BUILT_IN_PACKS]
        if unknown:
            known = ", ".join(BUILT_IN_PACKS)
            raise ValueError(f"unknown keyword language {unknown[0]!r} (known: {known})")
        if ALWAYS_ON not in codes:
            codes.append(ALWAYS_ON)
        packs = [BUILT_IN_PACKS[code] for code in dict.fromkeys(codes)]
        extra = KeywordPack.of(CUSTOM, extra_opt_out, extra_opt_in, extra_help)
        if extra.opt_out or extra.opt_in or extra.help:
            packs.append(extra)
        return cls(tuple(packs))

    @property
    def languages(self) -> tuple[str, ...]:
        """The enabled pack languages, in order."""
        return tuple(pack.language for pack in self.packs)

    def classify(self, text: str) -> KeywordMatch | None:
        """The keyword this whole message is, if it is one; a keyword inside a sentence is conversation."""
        word = normalise(text)
        return self._matches.get(word) if word else None

    @cached_property
    def _matches(self) -> dict[str, KeywordMatch]:
        """Every word of the packs, to the match it makes."""
        matches: dict[str, KeywordMatch] = {}
        # Kind first, then pack order: "STOP" is an opt-out whichever pack holds it, and any pack's opt-out
        # beats another pack's opt-in or help for the same word.
        for kind in PRECEDENCE:
            for pack in self.packs:
                for word in getattr(pack, kind):
                    matches.setdefault(word, KeywordMatch(kind, word, pack.language))
        return matches

    def is_conditional_opt_in(self, keyword: str) -> bool:
        """Whether an opt-in word is an everyday affirmative, which counts only from an opted-out number."""
        return normalise(keyword) in CONDITIONAL_OPT_INS
