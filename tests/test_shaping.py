"""Tests for turning an LLM answer into an SMS body."""

from __future__ import annotations

import pytest

from assistant.segments import count_segments, is_gsm7
from assistant.shaping import ShapedReply, fit_to_budget, shape_reply, strip_markdown

EMOJI = "😀"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("**bold** and __bold__", "bold and bold"),
        ("*italic* and _italic_", "italic and italic"),
        ("***both*** ~~gone~~", "both gone"),
        ("my_var_name and snake_case_too", "my_var_name and snake_case_too"),
        ("$5 * 2 = $10, 2*3*4", "$5 * 2 = $10, 2*3*4"),
        ("use `pip install x` now", "use pip install x now"),
        ("`a*b*c` stays", "a*b*c stays"),
        ("```python\nx = my_var * 2\n```", "x = my_var * 2"),
        ("# Hours\n## Open *daily* ##", "Hours\nOpen daily"),
        ("> quoted\n>> deeper", "quoted\ndeeper"),
        ("- one\n* two\n+ three", "- one\n- two\n- three"),
        ("1. first\n2) second", "1. first\n2. second"),
        ("[Book here](https://x.com/book_now)", "Book here https://x.com/book_now"),
        ("[https://x.com](https://x.com)", "https://x.com"),
        ('[site](https://x.com "Title")', "site https://x.com"),
        ("![our logo](https://x.com/logo.png)", "our logo"),
        ("<https://x.com/a_b_c>", "https://x.com/a_b_c"),
        ("\\*not italic\\*", "*not italic*"),
        ("a\n\n\n\n\nb", "a\n\nb"),
        ("a\n\n---\n\nb", "a\n\nb"),
        ("  \n plain text \n\n", "plain text"),
        ("", ""),
    ],
)
def test_strip_markdown(text: str, expected: str) -> None:
    assert strip_markdown(text) == expected


SENTENCES = " ".join(f"Sentence number {i} is here." for i in range(40))


@pytest.mark.parametrize("max_segments", [1, 2, 3])
def test_fit_to_budget_cuts_at_sentence_boundary(max_segments: int) -> None:
    out = fit_to_budget(SENTENCES, max_segments)
    assert count_segments(out).segments <= max_segments
    assert out.endswith("is here.")
    assert SENTENCES.startswith(out)
    # it is the longest whole-sentence prefix that fits
    next_end = SENTENCES.index(".", len(out)) + 1
    assert count_segments(SENTENCES[:next_end]).segments > max_segments


@pytest.mark.parametrize(
    ("text", "max_segments"),
    [
        ("word " * 100, 1),
        ("averyveryverylongword " * 30, 2),
        ("naïve ą " * 60, 1),  # UCS-2
        ("Short. " + "no sentence end here " * 40, 1),  # the only sentence end keeps too little
    ],
)
def test_fit_to_budget_cuts_at_word_with_ellipsis(text: str, max_segments: int) -> None:
    out = fit_to_budget(text, max_segments)
    assert out.endswith("...") and "…" not in out
    assert count_segments(out).segments <= max_segments
    head = out[: -len("...")]
    assert text.startswith(head)
    assert text[len(head)].isspace()  # never mid-word
    info = count_segments(out)
    assert info.units * 2 > info.per_segment * max_segments  # the cut keeps most of the budget


def test_fit_to_budget_keeps_whole_lines() -> None:
    text = "Options:\n" + "\n".join(f"{i}. Slot at {i}:00 on Monday with Anna" for i in range(1, 15))
    out = fit_to_budget(text, 1)
    assert count_segments(out).segments == 1
    assert out.endswith("with Anna")
    assert text.startswith(out)


@pytest.mark.parametrize(
    ("text", "max_segments"),
    [
        ("a" * 500, 1),
        ("€" * 500, 1),
        (EMOJI * 200, 2),
    ],
)
def test_fit_to_budget_one_huge_word_is_hard_cut(text: str, max_segments: int) -> None:
    out = fit_to_budget(text, max_segments)
    assert out and out.endswith("...")
    assert count_segments(out).segments == max_segments
    assert text.startswith(out[:-3])


@pytest.mark.parametrize(
    ("text", "max_segments"),
    [("", 1), ("Hi!", 1), ("a" * 160, 1), ("a" * 306, 2), (EMOJI * 35, 1)],
)
def test_fit_to_budget_returns_fitting_text_unchanged(text: str, max_segments: int) -> None:
    assert fit_to_budget(text, max_segments) == text


def test_fit_to_budget_rejects_zero_budget() -> None:
    with pytest.raises(ValueError):
        fit_to_budget("hi", 0)


LONG_MARKDOWN = """## Your booking

Thanks for reaching out! Here's what I found for **next week**:

- *Monday* 9:00 with Anna
- *Tuesday* 14:30 with Ben
- *Friday* 11:00 with Anna

Each session lasts 60 minutes and costs $45. You can pay at the front desk or online — whichever is easier.
Please arrive 10 minutes early so we can get you settled. If you need to move your appointment, just text us
the new time you'd like… we'll do our best to fit you in. See [our policy](https://example.com/policy) for
details on late arrivals and missed sessions.
"""


def test_shape_reply_long_markdown_fits_two_segments_at_sentence_end() -> None:
    reply = shape_reply(LONG_MARKDOWN)
    assert isinstance(reply, ShapedReply)
    assert count_segments(LONG_MARKDOWN).segments > 2
    assert reply.segments <= 2
    assert reply.segments == count_segments(reply.body).segments
    assert reply.encoding == "GSM-7" and is_gsm7(reply.body)
    assert reply.body.endswith("online - whichever is easier.")  # the last whole sentence that fits
    assert "**" not in reply.body and "##" not in reply.body and "*Monday*" not in reply.body
    assert reply.body.startswith("Your booking\n\nThanks for reaching out! Here's what I found for next")


@pytest.mark.parametrize(
    ("text", "body", "encoding", "segments"),
    [
        ("Your appointment is confirmed for Monday at 9:00.", None, "GSM-7", 1),
        ("See you soon 😀", None, "UCS-2", 1),
        ("It’s “booked” — see you…", 'It\'s "booked" - see you...', "GSM-7", 1),
        ("  **Hi**   there,\n\n\n\n  Anna\t here  ", "Hi there,\n\nAnna here", "GSM-7", 1),
    ],
)
def test_shape_reply_short(text: str, body: str | None, encoding: str, segments: int) -> None:
    reply = shape_reply(text)
    assert reply == ShapedReply(body=text if body is None else body, encoding=encoding, segments=segments)


@pytest.mark.parametrize("max_segments", [1, 2, 4])
def test_shape_reply_respects_budget(max_segments: int) -> None:
    reply = shape_reply(LONG_MARKDOWN * 3, max_segments=max_segments)
    assert reply.segments <= max_segments
    assert reply.body


def test_a_disclosure_suffix_is_kept_whole_within_the_budget() -> None:
    text = "We have plenty of classes for every level and schedule you can imagine. " * 6
    shaped = shape_reply(text, 2, suffix="Reply STOP to opt out.")
    assert shaped.body.endswith("imagine. Reply STOP to opt out.")
    assert shaped.segments == 2
    assert shape_reply("Hi!", 2, suffix="Reply STOP to opt out.").body == "Hi! Reply STOP to opt out."
