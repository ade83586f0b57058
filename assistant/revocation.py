"""Plain-language revocation: sentences that ask us to stop texting, or hint at it, in our languages."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Literal

PhraseKind = Literal["opt_out", "doubtful"]


@dataclass(frozen=True)
class PhraseMatch:
    """A text that revokes consent ("opt_out") or asks about it ("doubtful"), and the rule that said so."""

    kind: PhraseKind
    rule: str


@dataclass(frozen=True)
class PhraseRule:
    """A named pattern over folded text; the name is what the consent ledger records."""

    name: str
    kind: PhraseKind
    pattern: re.Pattern[str]


# Curly, backtick and prime apostrophes all mean the ASCII one ("don’t" is "don't").
_APOSTROPHES = str.maketrans(dict.fromkeys("’‘`´ʼʹ′＇", "'"))


def fold(text: str) -> str:
    """Lowercase a message for the phrase rules: no accents, one kind of apostrophe, single spaces."""
    text = text.translate(_APOSTROPHES)
    # Most texts are ASCII, which the Unicode folds leave as it is but for the case.
    return " ".join((text.lower() if text.isascii() else _unicode_fold(text)).split())


def _unicode_fold(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).casefold()
    return "".join(
        c for c in unicodedata.normalize("NFD", text) if unicodedata.category(c) not in ("Mn", "Me", "Cf")
    )


# Building blocks. Each rule names what we send ("texts", "messages") or whom ("me"), so that "stop by",
# "cancel my class" and "end of the month" stay conversation.
_TEXTS = (
    r"(?:text messages|texts|txts|messages|msgs|sms|smses|notifications|reminders|alerts|promos|promotions)"
)
_DET = r"(?:my|your|ur|these|those|this|the|all|any|more|of|such|stupid|annoying|spam|marketing|promotional)"
_ANY_TEXTS = rf"(?:(?:{_DET} )*(?:text |sms )?{_TEXTS})"  # "all of these stupid text messages"
_ME = r"(?:me|us|this number|my (?:phone |cell )?number|my phone)"
_LIST = (
    r"(?:(?:text|texting|sms|mailing|contact|messaging|marketing|call|phone) )?(?:list|lists|database|system)"
)
# "don't stop texting me" is the opposite of a revocation.
_UNNEGATED = r"(?<!n't )(?<!\bnot )(?<!\bdont )(?<!\bcant )(?<!\bwont )(?<!\bnever )"
# The request ends here or says "for good": "don't text me" and "... anymore", not "don't text me the link".
_FOR_GOOD = (
    r"(?:\s(?:anymore|any more|again|ever again|no more)\b"
    r"|\s*(?:please|pls|plz|thanks|thank you)?\s*(?:[.!]|$))"
)
_WANT = r"\b(?:i|we)(?:'d like| (?:really |just )?(?:want|wanna|need|wish|would like))(?: to)?"
_POLITE = r"(?:please|pls|plz|now|thanks|thank you|thx|ty|asap|already|it|ok|okay)"
_STOP_WORD = r"(?:stop|stop ?all|unsubscribe|unsub|opt ?-?out|quit|revoke)"
_ES_TEXTS = r"(?:mensajes|textos|sms|notificaciones|recordatorios)"
_FR_TEXTS = r"(?:messages|sms|textos|notifications|rappels)"
_DE_TEXTS = r"(?:sms|nachrichten|textnachrichten|texte|mitteilungen|benachrichtigungen|erinnerungen|werbung)"


def _rule(name: str, kind: PhraseKind, *pattern: str) -> PhraseRule:
    return PhraseRule(name, kind, re.compile("".join(pattern)))


# The one table, searched in order: every clear revocation before any doubtful one.
RULES: tuple[PhraseRule, ...] = (
    # --- clear revocations, English ---
    # Only an opt-out word and politeness: "please stop", "STOP NOW!!", "unsubscribe pls", "stop it".
    _rule(
        "polite_stop", "opt_out", rf"^(?:{_POLITE}[\W_]+)*{_STOP_WORD}(?:[\W_]+(?:{_POLITE}|stop))*[\W_]*$"
    ),
    # "please stop texting me", "stop messaging us" (but not "don't stop texting me").
    _rule(
        "stop_texting",
        "opt_out",
        rf"{_UNNEGATED}\bstop (?:texting|text|txting|messaging|message|contacting|contact",
        rf"|spamming|bothering) {_ME}\b",
    ),
    # "stop sending me texts", "stop sending these messages", "stop sending me!".
    _rule(
        "stop_sending",
        "opt_out",
        rf"{_UNNEGATED}\bstop sending (?:(?:{_ME} )?{_ANY_TEXTS}\b|{_ME}{_FOR_GOOD})",
    ),
    # "stop all messages", "stop these texts", "stop the reminders".
    _rule("stop_messages", "opt_out", rf"{_UNNEGATED}\bstop {_ANY_TEXTS}\b"),
    # "don't text me anymore", "do not text me again", "dont contact me", "never text me again".
    _rule(
        "dont_text",
        "opt_out",
        r"\b(?:don'?t|do not|never) (?:ever )?(?:text|txt|message|msg|contact|sms|spam|bother)",
        rf" {_ME}{_FOR_GOOD}",
    ),
    # "unsubscribe me", "opt me out".
    _rule("unsubscribe_me", "opt_out", rf"\bunsubscribe {_ME}\b|\bopt {_ME} out\b"),
    # "I want to unsubscribe", "I'd like to opt out of these texts" (not "opt out of the class").
    _rule(
        "wants_out",
        "opt_out",
        rf"{_WANT} (?:unsubscribe|opt ?-?out|optout|be removed)",
        rf"(?:\s(?:of|from) (?:{_ANY_TEXTS}|(?:your|ur|this) {_LIST})\b|{_FOR_GOOD})",
        rf"|{_WANT} stop (?:getting|receiving) {_ANY_TEXTS}\b",
    ),
    # "remove me from your list", "take me off your texts", "remove my number" (not "... from the class").
    _rule(
        "remove_me",
        "opt_out",
        rf"\b(?:(?:remove|delete|erase|drop) {_ME} from|take {_ME} off(?: of)?) ",
        rf"(?:(?:your|ur|this) {_LIST}|the (?:text|texting|sms|mailing|contact|marketing) list",
        rf"|{_ANY_TEXTS})\b",
        rf"|\b(?:remove|delete) {_ME}{_FOR_GOOD}",
    ),
    # "no more texts please" at the start of a sentence (not "there are no more messages").
    _rule("no_more_texts", "opt_out", rf"(?:^|[.!,]\s*)(?:please |pls )?no more {_ANY_TEXTS}\b"),
    # "I don't want these texts anymore", "we no longer want reminders".
    _rule(
        "dont_want_texts",
        "opt_out",
        r"\b(?:i|we) (?:don'?t|do not|no longer) (?:want|need)(?: to (?:get|receive))?",
        rf" (?:anymore |any more )?{_ANY_TEXTS}\b",
    ),
    # "cancel my subscription to these texts", "cancel the text reminders" (never "cancel my class").
    _rule(
        "cancel_texts",
        "opt_out",
        r"\bcancel (?:(?:my|your|the|these|those|all) )*",
        r"(?:(?:sms|text|texting) (?:subscription|alerts|reminders)",
        rf"|(?:text messages|texts|messages|sms)\b|subscription to {_ANY_TEXTS}\b)",
    ),
    # --- clear revocations, Spanish ---
    # "no me envíen más mensajes", "no me escriban más".
    _rule(
        "es_no_envien",
        "opt_out",
        r"\bno (?:me|nos) (?:(?:envi|mand|contact)(?:e|es|en)|escrib(?:a|as|an))",
        rf" (?:mas\b|(?:\w+ )?{_ES_TEXTS}\b)",
    ),
    # "dejen de enviarme mensajes", "deja de escribirme".
    _rule(
        "es_dejen_de",
        "opt_out",
        r"\b(?:dejen|deje|deja|dejes|dejad|paren|pare|para) de",
        r" (?:enviar|mandar|escribir|contactar)(?:me|nos)\b",
    ),
    # "ya no quiero recibir mensajes", "no más mensajes".
    _rule(
        "es_no_quiero",
        "opt_out",
        rf"\bno quiero (?:recibir |mas |sus |estos |los |tus )*{_ES_TEXTS}\b",
        rf"|(?:^|[.!,]\s*)no mas {_ES_TEXTS}\b",
    ),
    # "quiero darme de baja", "denme de baja de los mensajes" (not "darme de baja del gimnasio").
    _rule(
        "es_darme_de_baja",
        "opt_out",
        r"\b(?:(?:quiero|quisiera|deseo|necesito|por favor|favor de) (?:darme|darnos)|denme|deme|dennos)",
        r" de baja(?:\s*(?:[.!]|$)|\s(?:por favor|gracias)\b",
        rf"| de (?:los |estos |sus |tus |la |esta )?(?:{_ES_TEXTS}|lista)\b)",
    ),
    # "bórrenme de su lista", "sáquenme de la lista".
    _rule(
        "es_borrar_lista",
        "opt_out",
        r"\b(?:borr|elimin|quit|saqu|sac)(?:a|e|en)(?:me|nos) de (?:su|la|tu|esta) lista\b",
    ),
    # --- clear revocations, French ---
    # "arrêtez de m'envoyer des messages", "cessez de me contacter".
    _rule(
        "fr_arretez",
        "opt_out",
        r"\b(?:arretez|arrete|arretes|cessez|cesse|stoppez) de (?:m'|me |nous )",
        r"(?:envoyer|ecrire|contacter|texter)\b",
    ),
    # "ne m'envoyez plus de messages", "merci de ne plus me contacter".
    _rule(
        "fr_ne_plus",
        "opt_out",
        r"\bne (?:m'|me |nous )(?:envoyez|ecrivez|contactez|textez|envoie|ecris|contacte) plus\b",
        r"|\bne plus (?:m'|me |nous )(?:envoyer|ecrire|contacter|texter)\b",
    ),
    # "je ne veux plus recevoir vos messages".
    _rule(
        "fr_ne_veux_plus",
        "opt_out",
        rf"\bje ne (?:veux|souhaite) plus (?:recevoir )?(?:de |d'|vos |ces |les |aucun )?{_FR_TEXTS}\b",
    ),
    # "désabonnez-moi", "je veux me désinscrire", "retirez-moi de votre liste" (not "retirez-moi du cours").
    _rule(
        "fr_desabonnez_moi",
        "opt_out",
        r"\b(?:desabonnez|desinscrivez|desabonne|desinscris)[- ]?(?:moi|nous)\b",
        r"|\b(?:je veux|je voudrais|je souhaite|veuillez|merci de) (?:me|nous) (?:desabonner|desinscrire)\b",
        r"|\b(?:retirez|supprimez|enlevez|retire|supprime|enleve)[- ]?(?:moi|nous)",
        r" de (?:votre|vos|la|cette) liste\b",
    ),
    # --- clear revocations, German ---
    # "keine SMS mehr", "bitte keine weiteren Nachrichten mehr".
    _rule("de_keine_mehr", "opt_out", rf"\bkeine (?:\w+ )?{_DE_TEXTS} mehr\b"),
    # "schreiben Sie mir nicht mehr", "bitte nicht mehr schreiben", "hört auf, mir zu schreiben".
    _rule(
        "de_nicht_mehr",
        "opt_out",
        r"\b(?:schreib|schick|send|kontaktier)\w* (?:sie |ihr )?(?:mir|uns) nicht mehr\b",
        r"|\bnicht mehr (?:schreiben|anschreiben|kontaktieren|texten)\b",
        r"|\bauf,? (?:mir|uns) (?:\w+ )?zu (?:schreiben|schicken|senden|texten)\b",
    ),
    # "melden Sie mich ab", "tragen Sie mich von der Liste aus" (not "melden Sie mich vom Kurs ab").
    _rule(
        "de_melden_sie_mich_ab",
        "opt_out",
        r"\b(?:melden sie mich|melde mich|tragen sie mich|trag mich)",
        r" (?:von (?:den |allen |ihren |diesen |der )?(?:sms|nachrichten|mitteilungen|liste) )?(?:ab|aus)\b",
    ),
    # --- doubtful: talk of opting out that is not yet a request; the caller asks them to text STOP ---
    # "how do I stop these?", "is there a way to stop these?" (not "can I stop by at 5?").
    _rule(
        "asks_how_to_stop",
        "doubtful",
        r"\b(?:how|where|can|could|may|is there (?:a|any) way)\b.{0,30}?\b(?:stop|block|end)",
        r" (?:getting |receiving )?(?:these|this|them|those|all|the (?:texts|messages))\b",
    ),
    # Any other mention of unsubscribing or opting out: "how do I unsubscribe?", "can I opt out?".
    _rule(
        "mentions_opt_out",
        "doubtful",
        r"\b(?:unsubscrib\w*|opt(?:ing|ed)? ?-?out|optout|(?:dar|darme|darse|darnos|doy|denme|deme) de baja",
        r"|desuscrib\w*|desabonn\w*|desinscri\w*|abbestell\w*)",
    ),
    # "wie kann ich mich abmelden?" (alone, "abmelden" is too common in class bookings to count).
    _rule(
        "de_asks_how",
        "doubtful",
        r"\bwie (?:kann|konnen|koennen) (?:ich|wir|man) (?:mich |uns )?(?:abmelden|austragen)\b",
    ),
    # "why am I getting these texts", "why are you texting me".
    _rule(
        "why_texts",
        "doubtful",
        r"\bwhy\b.{0,25}?\b(?:(?:getting|receiving)",
        rf" (?:{_ANY_TEXTS}|(?:{_DET} )*(?:text|message|these|this))\b",
        r"|(?:texting|messaging|contacting|text|message|contact) (?:me|us|this number)\b)",
    ),
    # "who is this?" on its own (not "who is this instructor?").
    _rule("who_is_this", "doubtful", r"\bwho(?: is|'s|s) this(?:\s*[?.!,]|$)|\bwho is texting me\b"),
    # "how did you get my number?"
    _rule(
        "how_got_number",
        "doubtful",
        r"\b(?:how|where) (?:did|do|does) (?:you|u) (?:get|have|find|got)",
        r" (?:my|this) (?:phone |cell )?number\b",
    ),
    # "wrong number": whoever had this number before may have agreed; this person has not.
    _rule("wrong_number", "doubtful", r"\bwrong (?:number|person)\b"),
)


# The words every match of each rule contains, as its pattern reads ("stop*": a word starting so). A text
# with none of them skips the rules, which is nearly every text: the rules' lookbehinds and alternations
# cost tens of microseconds a text, this a few. tests/test_keywords.py checks each rule's examples.
NEEDS: dict[str, str] = {
    "polite_stop": "stop* unsub* opt* quit* revoke*",
    "stop_texting": "stop*",
    "stop_sending": "stop*",
    "stop_messages": "stop*",
    "dont_text": "don* not never*",
    "unsubscribe_me": "unsub* opt*",
    "wants_out": "unsub* opt* remov* stop*",
    "remove_me": "remov* delet* erase* drop* take*",
    "no_more_texts": "more",
    "dont_want_texts": "don* not longer",
    "cancel_texts": "cancel*",
    "es_no_envien": "no",
    "es_dejen_de": "dej* para pare paren",
    "es_no_quiero": "no",
    "es_darme_de_baja": "baja",
    "es_borrar_lista": "lista",
    "fr_arretez": "arret* cess* stop*",
    "fr_ne_plus": "plus",
    "fr_ne_veux_plus": "plus",
    "fr_desabonnez_moi": "desabonn* desinscri* liste",
    "de_keine_mehr": "mehr",
    "de_nicht_mehr": "mehr auf",
    "de_melden_sie_mich_ab": "mich",
    "asks_how_to_stop": "stop* block* end",
    "mentions_opt_out": "unsub* opt* baja desuscrib* desabonn* desinscri* abbestell*",
    "de_asks_how": "wie",
    "why_texts": "why",
    "who_is_this": "who*",
    "how_got_number": "number",
    "wrong_number": "wrong",
}
if set(NEEDS) != {rule.name for rule in RULES}:
    raise RuntimeError("every phrase rule needs its entry in NEEDS, and only they")
# Letters only: the rules' words sit between \b, spaces or punctuation, and an apostrophe splits "don't".
_WORDS = re.compile(r"[a-z]+")


def _needed(listed: str) -> tuple[frozenset[str], tuple[str, ...]]:
    """NEEDS' words for one rule: whole words, and prefixes (a word starting so)."""
    needed = listed.split()
    return frozenset(n for n in needed if "*" not in n), tuple(n[:-1] for n in needed if n.endswith("*"))


def _rules_by(needs: dict[str, str]) -> tuple[dict[str, frozenset[int]], dict[str, frozenset[int]]]:
    """Which rules (by index in RULES) each needed word, and each needed prefix, may start."""
    by_word: dict[str, set[int]] = {}
    by_prefix: dict[str, set[int]] = {}
    for index, rule in enumerate(RULES):
        words, prefixes = _needed(needs[rule.name])
        for word in words:
            by_word.setdefault(word, set()).add(index)
        for prefix in prefixes:
            by_prefix.setdefault(prefix, set()).add(index)
    return (
        {word: frozenset(rules) for word, rules in by_word.items()},
        {prefix: frozenset(rules) for prefix, rules in by_prefix.items()},
    )


_BY_WORD, _BY_PREFIX = _rules_by(NEEDS)
_PREFIXES = tuple(_BY_PREFIX)


def _candidates(folded: str) -> list[int]:
    """The rules a folded text may match, in RULES' order: those whose words it has."""
    hits = [word for word in _WORDS.findall(folded) if word in _BY_WORD or word.startswith(_PREFIXES)]
    if not hits:  # nearly every text
        return []
    found: set[int] = set()
    for word in hits:
        found.update(_BY_WORD.get(word, ()))
        found.update(*(rules for prefix, rules in _BY_PREFIX.items() if word.startswith(prefix)))
    return sorted(found)


def may_match(folded: str, needs: str) -> bool:
    """Whether a folded text has a word the rule with these `needs` needs."""
    words, prefixes = _needed(needs)
    return any(word in words or word.startswith(prefixes) for word in _WORDS.findall(folded))


def classify_phrase(text: str) -> PhraseMatch | None:
    """The first rule a message matches, clear revocations before doubtful ones; None for conversation."""
    folded = fold(text)
    for index in _candidates(folded):  # most texts have none of the rules' words: nothing is searched
        rule = RULES[index]
        if rule.pattern.search(folded):
            return PhraseMatch(rule.kind, rule.name)
    return None
