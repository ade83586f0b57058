"""MMS in the staff console: a reply can attach images (checked first), and a thread shows what came."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from storage.tables import Message
from tests.support.staff import signed_in

CUSTOMER = "+14155550123"
THREAD = "/admin/conversations/%2B14155550123"


async def _outbound(app) -> int:
    async with app.runtime.clients.engine.connect() as connection:
        where = Message.direction == "outbound"
        return await connection.scalar(select(func.count()).select_from(Message).where(where))


async def test_a_staff_reply_with_an_image_reaches_twilio_and_shows_in_the_thread(
    twilio, llm, twilio_settings, start_app, media
) -> None:
    llm.reply_with("Hello!")
    url = media[1] + "entrance.jpg"
    async with start_app(twilio_settings()) as app:
        await app.text("where's the door?")
        await app.settle()
        csrf = await signed_in(app)
        sent = await app.client.post(
            f"{THREAD}/reply", data={"csrf_token": csrf, "body": "This is the door.", "media": f"{url}\n"}
        )
        assert sent.status_code == 303 and "done=sent" in sent.headers["location"]
        page = await app.client.get(THREAD)

    assert twilio.request_media[-1] == [url] and twilio.messages[-1]["num_media"] == "1"
    assert twilio.messages[-1]["body"] == "This is the door."
    bubble = page.text.split("This is the door.")[1].split('<div class="meta">')[0]
    assert f'<img src="{url}"' in bubble and "MMS, 1 image" in page.text
    assert "img-src 'self' data: https:" in page.headers["content-security-policy"]


async def test_an_image_alone_may_be_sent(twilio, llm, twilio_settings, start_app, media) -> None:
    async with start_app(twilio_settings()) as app:
        await app.text("hi")
        await app.settle()
        csrf = await signed_in(app)
        sent = await app.client.post(
            f"{THREAD}/reply", data={"csrf_token": csrf, "body": "", "media": media[1] + "map.png"}
        )

    assert "done=sent" in sent.headers["location"]
    assert twilio.request_media[-1] == [media[1] + "map.png"] and twilio.messages[-1]["body"] == ""


@pytest.mark.parametrize(
    ("names", "wrong"),
    [
        ([f"map.png?{n}" for n in range(11)], "11 media given; an MMS carries at most 10"),
        (["menu.pdf"], "menu.pdf is application/pdf; an MMS can carry JPEG, PNG or GIF images"),
        (["poster.jpg"], "the media come to 6.0 MB; Twilio takes at most 5 MB per message"),
        (["half.jpg", "half.jpg?again"], "the media come to 6.0 MB"),
        (["gone.png"], "gone.png answered HTTP 404"),
    ],
)
async def test_media_that_cannot_go_get_a_clear_400_and_nothing_is_written(
    twilio, llm, twilio_settings, start_app, media, names, wrong
) -> None:
    llm.reply_with("Hello!")
    async with start_app(twilio_settings()) as app:
        await app.text("hi")
        await app.settle()
        csrf = await signed_in(app)
        before, sent_before = await _outbound(app), len(twilio.requests)
        listed = "\n".join(media[1] + name for name in names)
        refused = await app.client.post(
            f"{THREAD}/reply", data={"csrf_token": csrf, "body": "See attached", "media": listed}
        )
        after = await _outbound(app)
        takeover = await app.runtime.takeovers.active(CUSTOMER)

    assert refused.status_code == 400 and wrong in refused.text
    assert "See attached" in refused.text and media[1] + names[0] in refused.text  # the draft is kept
    assert after == before and len(twilio.requests) == sent_before and takeover is None


async def test_a_non_https_url_is_refused_before_any_request(
    twilio, llm, twilio_settings, start_app, media
) -> None:
    async with start_app(twilio_settings()) as app:
        await app.text("hi")
        await app.settle()
        csrf = await signed_in(app)
        refused = await app.client.post(
            f"{THREAD}/reply",
            data={"csrf_token": csrf, "body": "x", "media": "javascript:alert(1)"},
        )

    assert refused.status_code == 400 and "is not an https:// URL" in refused.text
    assert media[0].requests == []


async def test_a_customers_images_show_as_links_with_their_type(
    twilio, llm, twilio_settings, start_app
) -> None:
    llm.reply_with("Thanks!")
    twilio_media = "https://api.twilio.com/2010-04-01/Accounts/AC1/Messages/MM1/Media/ME1"
    async with start_app(twilio_settings()) as app:
        await app.text(
            "look",
            NumMedia="2",
            MediaUrl0=twilio_media,
            MediaContentType0="image/jpeg",
            MediaUrl1='javascript:alert("x")',
            MediaContentType1="image/png",
        )
        await app.settle()
        await signed_in(app)
        page = (await app.client.get(THREAD)).text

    assert (
        f'<a href="{twilio_media}" rel="noopener noreferrer nofollow" target="_blank">image/jpeg</a>' in page
    )
    assert "javascript:" not in page and "image/png (no web address)" in page
    assert f'<img src="{twilio_media}"' not in page  # Twilio's media may need credentials: a link only
