"""Tests for the keyword gate's classification: whole-message keywords and plain-language revocation."""

from __future__ import annotations

import hypothesis
import pytest

from assistant.keywords import (
    BUILT_IN_PACKS,
    KeywordMatch,
    KeywordSet,
    PhraseMatch,
    classify_phrase,
    normalise,
)
from assistant.revocation import NEEDS, RULES, fold, may_match

ALL = KeywordSet.build()


@pytest.mark.parametrize(
    ("text", "folded"),
    [
        ("STOP", "STOP"),
        ("  stop \n", "STOP"),
        ("ＳＴＯＰ", "STOP"),  # fullwidth
        ("ARRÊT", "ARRET"),
        ("Désabonner", "DESABONNER"),
        ("STOP.", "STOP"),
        ("Stop!", "STOP"),
        ("STOP!!!", "STOP"),
        ("stop 🛑", "STOP"),
        ("🛑 stop ✋🏽", "STOP"),  # emoji with a skin-tone modifier
        ("¡BAJA!", "BAJA"),
        ("'stop'", "STOP"),
        ("“Stop”", "STOP"),
        ("S\u200bT\u200dOP\ufeff", "STOP"),  # zero-width space, joiner, BOM
        ("OPT-OUT", "OPT OUT"),
        ("opt_out", "OPT OUT"),
        ("Opt   Out", "OPT OUT"),
        ("opt – out", "OPT OUT"),  # en dash
        ("opt\u00a0out", "OPT OUT"),  # no-break space
        ("stop, please", "STOP, PLEASE"),  # inner punctuation stays
        ("Straße", "STRASSE"),
        ("🛑", ""),
        ("", ""),
        ("  ...  ", ""),
    ],
)
def test_normalise(text: str, folded: str) -> None:
    assert normalise(text) == folded


@pytest.mark.parametrize(
    ("text", "keyword", "language"),
    [
        ("STOP", "STOP", "en"),
        ("stop", "STOP", "en"),
        ("  Stop  ", "STOP", "en"),
        ("STOP.", "STOP", "en"),
        ("Stop!", "STOP", "en"),
        ("STOP!!!", "STOP", "en"),
        ("'stop'", "STOP", "en"),
        ("ＳＴＯＰ", "STOP", "en"),
        ("stop 🛑", "STOP", "en"),
        ("Cancel", "CANCEL", "en"),
        ("quit", "QUIT", "en"),
        ("End", "END", "en"),
        ("revoke", "REVOKE", "en"),
        ("unsubscribe", "UNSUBSCRIBE", "en"),
        ("stopall", "STOPALL", "en"),
        ("Stop all", "STOP ALL", "en"),
        ("opt out", "OPT OUT", "en"),
        ("Opt-Out", "OPT OUT", "en"),
        ("opt_out", "OPT OUT", "en"),
        ("OPTOUT", "OPTOUT", "en"),
        ("unsub", "UNSUB", "en"),
        ("remove", "REMOVE", "en"),
        ("baja", "BAJA", "es"),
        ("¡Baja!", "BAJA", "es"),
        ("alto", "ALTO", "es"),
        ("parar", "PARAR", "es"),
        ("cancelar", "CANCELAR", "es"),
        ("darse de baja", "DARSE DE BAJA", "es"),
        ("No más", "NO MAS", "es"),
        ("arrêt", "ARRET", "fr"),
        ("ARRET", "ARRET", "fr"),
        ("Arrête", "ARRETE", "fr"),
        ("désabonner", "DESABONNER", "fr"),
        ("STOPP", "STOPP", "de"),
        ("abmelden", "ABMELDEN", "de"),
    ],
)
def test_opt_out_keywords(text: str, keyword: str, language: str) -> None:
    assert ALL.classify(text) == KeywordMatch("opt_out", keyword, language)


@pytest.mark.parametrize(
    ("text", "keyword", "language", "conditional"),
    [
        ("START", "START", "en", False),
        ("unstop", "UNSTOP", "en", False),
        ("Yes", "YES", "en", True),
        ("YES!", "YES", "en", True),
        ("sí", "SI", "es", True),
        ("Si", "SI", "es", True),
        ("alta", "ALTA", "es", False),
        ("oui", "OUI", "fr", True),
        ("Démarrer", "DEMARRER", "fr", False),
        ("ja", "JA", "de", True),
        ("anmelden", "ANMELDEN", "de", False),
    ],
)
def test_opt_in_keywords(text: str, keyword: str, language: str, conditional: bool) -> None:
    assert ALL.classify(text) == KeywordMatch("opt_in", keyword, language)
    assert ALL.is_conditional_opt_in(keyword) is conditional


@pytest.mark.parametrize("word", ["YES", "yes", "Sí", "oui", "JA"])
def test_affirmatives_are_conditional_however_spelled(word: str) -> None:
    assert ALL.is_conditional_opt_in(word)


@pytest.mark.parametrize(
    ("text", "keyword", "language"),
    [
        ("HELP", "HELP", "en"),
        ("info", "INFO", "en"),
        ("Help?", "HELP", "en"),
        ("ayuda", "AYUDA", "es"),
        ("aide", "AIDE", "fr"),
        ("hilfe", "HILFE", "de"),
    ],
)
def test_help_keywords(text: str, keyword: str, language: str) -> None:
    assert ALL.classify(text) == KeywordMatch("help", keyword, language)


# Ordinary conversation: it reaches the LLM, so neither half of the gate may claim it.
CONVERSATION = [
    "I want to stop by tomorrow",
    "I want to stop by the studio tomorrow",
    "can I stop by at 5?",
    "stop by later?",
    "don't stop the music",
    "don't stop texting me!",
    "I need to cancel my yoga class",
    "please cancel my appointment",
    "I'd like to cancel my appointment",
    "Can I cancel my 6pm?",
    "please cancel",
    "can you end my membership?",
    "end of the month works",
    "I quit smoking!",
    "the bus stop near you",
    "stop! that's hilarious",
    "start time for spin?",
    "what time do you end today?",
    "Help me book yoga",
    "info on prices please",
    "Yes please",
    "remove me from the saturday class",
    "take me off the waitlist",
    "who is this instructor?",
    "why am I getting charged twice?",
    "I don't want the 5pm slot",
    "don't text me the link, email it",
    "Don't call me, text me",
    "there are no more messages",
    "no more classes this week?",
    "no me envíe el recibo",
    "estoy de baja por enfermedad",
    "retirez-moi du cours",
    "melden Sie mich vom Kurs ab",
    "ich möchte mich vom Yogakurs abmelden",
    "",
    "🛑",
]


@pytest.mark.parametrize("text", CONVERSATION)
def test_conversation_is_not_a_keyword(text: str) -> None:
    assert ALL.classify(text) is None


@pytest.mark.parametrize("text", CONVERSATION)
def test_conversation_is_not_a_revocation(text: str) -> None:
    assert classify_phrase(text) is None


def test_a_bare_affirmative_is_still_a_keyword() -> None:
    # "yes" is conversation for a subscribed number, but that is the caller's call: it is an opt-in keyword.
    assert ALL.classify("yes") == KeywordMatch("opt_in", "YES", "en")
    assert classify_phrase("yes") is None


CLEAR = [
    ("please stop texting me", "stop_texting"),
    ("stop texting me", "stop_texting"),
    ("STOP TEXTING ME!!", "stop_texting"),
    ("stop messaging me", "stop_texting"),
    ("can you stop texting me?", "stop_texting"),
    ("I’m done, stop texting me", "stop_texting"),
    ("stop sending me texts", "stop_sending"),
    ("stop sending me messages", "stop_sending"),
    ("Can you please stop sending me these messages?", "stop_sending"),
    ("stop sending me!", "stop_sending"),
    ("stop all messages", "stop_messages"),
    ("stop these texts", "stop_messages"),
    ("don't text me anymore", "dont_text"),
    ("don’t text me", "dont_text"),
    ("do not text me again", "dont_text"),
    ("dont contact me", "dont_text"),
    ("never text me again", "dont_text"),
    ("unsubscribe me", "unsubscribe_me"),
    ("opt me out", "unsubscribe_me"),
    ("I want to unsubscribe", "wants_out"),
    ("I'd like to opt out of these texts", "wants_out"),
    ("I want to opt out", "wants_out"),
    ("i want to stop getting these texts", "wants_out"),
    ("remove me from your list", "remove_me"),
    ("remove my number", "remove_me"),
    ("Please remove me.", "remove_me"),
    ("take me off your list", "remove_me"),
    ("take me off your texts", "remove_me"),
    ("no more texts please", "no_more_texts"),
    ("I don't want these texts anymore", "dont_want_texts"),
    ("I don’t want these texts anymore", "dont_want_texts"),
    ("we no longer want reminders", "dont_want_texts"),
    ("cancel my subscription to these texts", "cancel_texts"),
    ("cancel my text reminders", "cancel_texts"),
    ("please stop", "polite_stop"),
    ("Stop please!", "polite_stop"),
    ("STOP NOW", "polite_stop"),
    ("stop, please", "polite_stop"),
    ("unsubscribe pls 🙏", "polite_stop"),
    ("no me envíen más mensajes", "es_no_envien"),
    ("no me escriban más", "es_no_envien"),
    ("dejen de enviarme mensajes", "es_dejen_de"),
    ("deja de escribirme", "es_dejen_de"),
    ("ya no quiero recibir mensajes", "es_no_quiero"),
    ("no más mensajes por favor", "es_no_quiero"),
    ("Quiero darme de baja", "es_darme_de_baja"),
    ("bórrenme de su lista", "es_borrar_lista"),
    ("Arrêtez de m'envoyer des messages", "fr_arretez"),
    ("arretez de m’envoyer des messages", "fr_arretez"),
    ("ne m'envoyez plus de messages", "fr_ne_plus"),
    ("merci de ne plus me contacter", "fr_ne_plus"),
    ("je ne veux plus recevoir vos messages", "fr_ne_veux_plus"),
    ("désabonnez-moi", "fr_desabonnez_moi"),
    ("je veux me désinscrire", "fr_desabonnez_moi"),
    ("keine SMS mehr", "de_keine_mehr"),
    ("bitte keine weiteren Nachrichten mehr", "de_keine_mehr"),
    ("schreiben Sie mir nicht mehr", "de_nicht_mehr"),
    ("hört auf, mir zu schreiben", "de_nicht_mehr"),
    ("melden Sie mich ab", "de_melden_sie_mich_ab"),
]


@pytest.mark.parametrize(("text", "rule"), CLEAR)
def test_clear_revocations(text: str, rule: str) -> None:
    assert classify_phrase(text) == PhraseMatch("opt_out", rule)


DOUBTFUL = [
    ("how do I unsubscribe?", "mentions_opt_out"),
    ("can I opt out?", "mentions_opt_out"),
    ("unsubscribe from the newsletter", "mentions_opt_out"),
    ("¿Cómo me doy de baja?", "mentions_opt_out"),
    ("quiero darme de baja del gimnasio", "mentions_opt_out"),
    ("comment me désabonner ?", "mentions_opt_out"),
    ("is there a way to stop these?", "asks_how_to_stop"),
    ("how do i stop getting these texts?", "asks_how_to_stop"),
    ("wie kann ich mich abmelden?", "de_asks_how"),
    ("why am I getting these texts", "why_texts"),
    ("why are you texting me?", "why_texts"),
    ("who is this? how did you get my number", "who_is_this"),
    ("Who's this?", "who_is_this"),
    ("how did you get my number", "how_got_number"),
    ("sorry, wrong number", "wrong_number"),
]


@pytest.mark.parametrize(("text", "rule"), DOUBTFUL)
def test_doubtful_revocations(text: str, rule: str) -> None:
    assert classify_phrase(text) == PhraseMatch("doubtful", rule)


@pytest.mark.parametrize("text", [text for text, _ in CLEAR + DOUBTFUL])
def test_every_rule_match_has_a_word_the_shortcut_looks_for(text: str) -> None:
    folded = fold(text)
    matches = [(rule, found) for rule in RULES if (found := rule.pattern.search(folded))]
    assert matches
    for rule, found in matches:
        # Its own stretch of the text, with a space either side for the \b the rule saw there.
        assert may_match(f" {found.group()} ", NEEDS[rule.name]), (rule.name, found.group())


def test_every_rule_has_a_unique_name_and_clear_rules_come_first() -> None:
    names = [rule.name for rule in RULES]
    assert len(names) == len(set(names))
    kinds = [rule.kind for rule in RULES]
    assert kinds == sorted(kinds, key=lambda kind: kind != "opt_out")


@pytest.mark.parametrize(
    "text",
    ["please " * 800 + "x", "stop " * 800 + "x", "why " + "a " * 800, "stop the " * 400 + "x", "!" * 1600],
)
def test_long_hostile_texts_are_neither_keywords_nor_revocations(text: str) -> None:
    # How long they take beside ordinary prose is measured by `python -m bench.keyword_gate`.
    assert classify_phrase(text) is None
    assert ALL.classify(text) is None


@pytest.mark.parametrize(
    ("languages", "text"),
    [
        (("en",), "baja"),
        (("en",), "arrêt"),
        (("en",), "stopp"),
        (("en",), "ayuda"),
        (("en",), "oui"),
        (("en", "fr"), "baja"),
        (("es",), "hilfe"),
    ],
)
def test_disabled_pack_words_do_not_match(languages: tuple[str, ...], text: str) -> None:
    assert KeywordSet.build(languages).classify(text) is None


def test_english_is_always_on() -> None:
    spanish = KeywordSet.build(["es"])
    assert spanish.languages == ("es", "en")
    assert spanish.classify("STOP") == KeywordMatch("opt_out", "STOP", "en")
    assert spanish.classify("baja") == KeywordMatch("opt_out", "BAJA", "es")


def test_shared_word_is_reported_from_the_first_enabled_pack() -> None:
    assert KeywordSet.build(["fr", "en"]).classify("stop") == KeywordMatch("opt_out", "STOP", "fr")
    assert KeywordSet.build(["en", "fr"]).classify("stop") == KeywordMatch("opt_out", "STOP", "en")


def test_extra_words_from_config_match() -> None:
    keywords = KeywordSet.build(
        ["en"], extra_opt_out=["Halt", "leave me alone"], extra_opt_in=["join"], extra_help=["¿Qué?"]
    )
    assert keywords.classify("halt!") == KeywordMatch("opt_out", "HALT", "custom")
    assert keywords.classify("Leave me  alone.") == KeywordMatch("opt_out", "LEAVE ME ALONE", "custom")
    assert keywords.classify("JOIN") == KeywordMatch("opt_in", "JOIN", "custom")
    assert keywords.classify("que") == KeywordMatch("help", "QUE", "custom")
    assert not keywords.is_conditional_opt_in("JOIN")


def test_opt_out_wins_over_any_other_meaning() -> None:
    keywords = KeywordSet.build(["en"], extra_help=["stop"], extra_opt_out=["yes"])
    assert keywords.classify("stop") == KeywordMatch("opt_out", "STOP", "en")
    assert keywords.classify("yes") == KeywordMatch("opt_out", "YES", "custom")


def test_help_wins_over_opt_in() -> None:
    keywords = KeywordSet.build(["en"], extra_help=["start"])
    assert keywords.classify("start") == KeywordMatch("help", "START", "custom")


def test_built_in_packs_hold_no_word_as_two_kinds() -> None:
    for pack in BUILT_IN_PACKS.values():
        assert not (pack.opt_out & pack.opt_in or pack.opt_out & pack.help or pack.opt_in & pack.help)


def test_built_in_words_are_stored_normalised() -> None:
    for pack in BUILT_IN_PACKS.values():
        for word in pack.opt_out | pack.opt_in | pack.help:
            assert normalise(word) == word


@pytest.mark.parametrize("languages", [["xx"], ["en", "klingon"], ["english"]])
def test_unknown_language_is_refused(languages: list[str]) -> None:
    with pytest.raises(ValueError, match="unknown keyword language"):
        KeywordSet.build(languages)


def test_empty_extra_word_is_refused() -> None:
    with pytest.raises(ValueError, match="no letters or digits"):
        KeywordSet.build(extra_opt_out=["!!"])


PLAIN = hypothesis.strategies.text(alphabet=hypothesis.strategies.characters(max_codepoint=127))


@hypothesis.given(PLAIN)
def test_plain_text_takes_a_shortcut_that_folds_it_as_the_unicode_path_does(text: str) -> None:
    """ASCII skips the Unicode folds; a zero-width space (which they remove) sends it down the long way."""
    assert normalise(text) == normalise("\u200b" + text)
    assert fold(text) == fold("\u200b" + text)
