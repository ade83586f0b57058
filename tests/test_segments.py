"""Tests for SMS encoding detection, segment counting and GSM-7 smart encoding."""

from __future__ import annotations

import pytest

from assistant.segments import GSM7_BASIC, GSM7_EXTENSION, count_segments, is_gsm7, smart_encode

EMOJI = "😀"  # outside the BMP: one surrogate pair, 2 UTF-16 code units


def test_tables_match_gsm_03_38() -> None:
    assert len(GSM7_BASIC) == 127  # 128 codes minus the ESC at 0x1B
    assert frozenset("\f^{}\\[~]|€") == GSM7_EXTENSION
    assert GSM7_BASIC.isdisjoint(GSM7_EXTENSION)
    assert {"é", "è", "ù", "ì", "ò", "Ç", "Ä", "Ö", "Ñ", "Ü", "ä", "ö", "ñ", "ü", "à", "É", "§"} <= GSM7_BASIC
    assert not {"ç", "á", "í", "ó", "ú", "â", "ã", "õ", "È", "`", "\t"} & GSM7_BASIC


@pytest.mark.parametrize(
    ("text", "encoding", "segments", "units", "per_segment"),
    [
        ("", "GSM-7", 1, 0, 160),  # a sent SMS always costs one segment
        ("a" * 160, "GSM-7", 1, 160, 160),
        ("a" * 161, "GSM-7", 2, 161, 153),
        ("a" * 306, "GSM-7", 2, 306, 153),
        ("a" * 307, "GSM-7", 3, 307, 153),
        ("é" * 160, "GSM-7", 1, 160, 160),
        ("€" * 80, "GSM-7", 1, 160, 160),
        ("€" * 81, "GSM-7", 2, 162, 153),
        ("a" * 159 + "€", "GSM-7", 2, 161, 153),
        # 152 septets, then "€" would straddle 153: it moves to part 2, which then overflows
        ("a" * 152 + "€" + "a" * 152, "GSM-7", 3, 306, 153),
        ("a" * 152 + "€" + "a" * 151, "GSM-7", 2, 305, 153),
        ("€" * 153, "GSM-7", 3, 306, 153),  # 76 per part, not 76.5
        ("ą" * 70, "UCS-2", 1, 70, 70),
        ("ą" * 71, "UCS-2", 2, 71, 67),
        ("ą" * 134, "UCS-2", 2, 134, 67),
        ("ą" * 135, "UCS-2", 3, 135, 67),
        ("a" * 159 + "ą", "UCS-2", 3, 160, 67),
        (EMOJI * 35, "UCS-2", 1, 70, 70),
        (EMOJI * 36, "UCS-2", 2, 72, 67),
        # 33 pairs fill 66 units; the 34th would straddle 67, so each part carries 33
        (EMOJI * 66, "UCS-2", 2, 132, 67),
        (EMOJI * 67, "UCS-2", 3, 134, 67),
        ("a" + EMOJI * 66, "UCS-2", 2, 133, 67),
        ("a" * 66 + EMOJI + "a" * 66, "UCS-2", 3, 134, 67),
    ],
)
def test_count_segments(text: str, encoding: str, segments: int, units: int, per_segment: int) -> None:
    info = count_segments(text)
    assert (info.encoding, info.segments, info.units, info.per_segment) == (
        encoding,
        segments,
        units,
        per_segment,
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", True),
        ("Hello, World! @ £5 [ok] {x} ~^|\\ €", True),
        ("Line\nbreak\r\fform feed", True),
        ("Ça va? Señor Müller, à bientôt", False),  # ô is not GSM-7
        ("Ça va? Señor Müller, à demain", True),
        ("It’s", False),
        ("tab\there", False),
        (EMOJI, False),
    ],
)
def test_is_gsm7(text: str, expected: bool) -> None:
    assert is_gsm7(text) is expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("It’s “great” — really…", 'It\'s "great" - really...'),
        ("‘single’ ‚low‛ 5′ 6″", "'single' 'low' 5' 6\""),
        ("a–b—c―d−e‐f", "a-b-c-d-e-f"),
        ("a\u00a0b\u2009c\u200ad\u2007e\u202ff\u3000g\tf", "a b c d e f g f"),
        ("zero\u200bwidth\u2060joined\ufeff soft\u00adhyphen", "zerowidthjoined softhyphen"),
        ("• one\n• two", "- one\n- two"),
        ("‹a› «b»", '<a> "b"'),
        ("ＡＢＣ１２３！", "ABC123!"),
        ("3×4÷2", "3x4/2"),
        ("á í ó ú â ê î ô û ã õ ç È", "a i o u a e i o u a o c E"),
        ("é è ù ì ò Ç Ä Ö Ü ä ö ü à ñ Ñ É", "é è ù ì ò Ç Ä Ö Ü ä ö ü à ñ Ñ É"),
        ("Łódź œuvre", "Lodz oeuvre"),
        ("e\u0301te\u0301", "été"),  # decomposed é composes to the GSM-7 é
        ("plain text stays", "plain text stays"),
        ("See you 😀 soon", "See you 😀 soon"),
        ("👩\u200d💻 dev", "👩\u200d💻 dev"),  # the joiner inside an emoji sequence stays
        ("漢字 ok", "漢字 ok"),
        ("Привет", "Привет"),
    ],
)
def test_smart_encode(text: str, expected: str) -> None:
    assert smart_encode(text) == expected


@pytest.mark.parametrize(
    ("text", "gsm7_after"),
    [
        ("It’s “great” — really…", True),
        ("Café façade, naïve coöperation – 10 × 2", True),
        ("Thanks! 😀", False),
        ("東京 “quoted”", False),
    ],
)
def test_smart_encode_is_gsm7_unless_no_look_alike(text: str, gsm7_after: bool) -> None:
    assert not is_gsm7(text)
    assert is_gsm7(smart_encode(text)) is gsm7_after


def test_smart_encode_saves_segments() -> None:
    text = "It’s booked — see you then… " * 5
    assert count_segments(text).encoding == "UCS-2"
    after = count_segments(smart_encode(text))
    assert after.encoding == "GSM-7"
    assert after.segments < count_segments(text).segments
