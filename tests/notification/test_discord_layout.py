"""Discord payloads: every payload within Discord's limits, nothing dropped silently."""

from __future__ import annotations

import re

import pytest
from discord_limits import FIELDS, MESSAGE_TOTAL, all_text, limit_violations
from notification_runs import FINISHED, STARTED, many_images_run, scanned

from hullcheck.notification import build_message, discord_payloads, render_text
from hullcheck.notification.discord_layout import DiscordLimits, escape_markdown
from hullcheck.notification.models import Item, NotificationMessage, Section
from hullcheck.run import RunRecord, RunStatus


def _clean_run(count: int) -> RunRecord:
    """A scan of ``count`` images without findings: only the image table is long."""
    images = [
        scanned(f"registry.example.net/team/service-{n:02d}:1.{n}.0", [], number=n)
        for n in range(1, count + 1)
    ]
    return RunRecord(
        run_id=5,
        command="scan",
        started_at=STARTED,
        finished_at=FINISHED,
        status=RunStatus.COMPLETE,
        images=images,
    )


def _image_names(count: int) -> list[str]:
    return [f"registry.example.net/team/service-{n:02d}:1.{n}.0" for n in range(1, count + 1)]


def test_forty_images_text_is_paged() -> None:
    message = build_message(_clean_run(40))
    text = render_text(message)
    assert 2000 < len(text) < 3800, "the case needs one page too many, not three"

    payloads = discord_payloads(message, text_only=True)

    assert len(payloads) == 2
    for payload in payloads:
        assert len(payload["content"]) <= 2000
        assert limit_violations(payload) == []
    sent = "\n".join(payload["content"] for payload in payloads)
    assert sent == escape_markdown(text), "paging must keep every line, in order"


def test_forty_images_embeds_fit() -> None:
    message = build_message(many_images_run(40))

    payloads = discord_payloads(message)

    for number, payload in enumerate(payloads, start=1):
        assert limit_violations(payload) == [], f"message {number}"
    text = all_text(payloads)
    for name in _image_names(40):
        assert escape_markdown(name) in text


def test_twenty_six_images_split_fields() -> None:
    message = build_message(many_images_run(26))

    payloads = discord_payloads(message)

    image_embeds = [
        embed
        for payload in payloads
        for embed in payload.get("embeds", [])
        if embed["title"].startswith("Images")
    ]
    assert len(image_embeds) == 2
    assert [len(embed["fields"]) for embed in image_embeds] == [25, 1]
    for payload in payloads:
        assert len(payload.get("embeds", [])) <= 10
        assert limit_violations(payload) == []
        total = sum(
            len(e["title"]) + sum(len(f["name"]) + len(f["value"]) for f in e.get("fields", []))
            for e in payload.get("embeds", [])
        )
        assert total <= MESSAGE_TOTAL


@pytest.mark.parametrize("count", [1, 25, 26, 40, 120, 400])
def test_any_size_fits_limits(count: int) -> None:
    message = build_message(many_images_run(count), report_location="/srv/reports/run-7.md")

    for text_only in (False, True):
        payloads = discord_payloads(message, text_only=text_only)
        assert 1 <= len(payloads) <= 10
        for number, payload in enumerate(payloads, start=1):
            assert limit_violations(payload) == [], f"message {number}, text_only={text_only}"
            assert payload["allowed_mentions"] == {"parse": []}


def test_cut_messages_count_missing_items() -> None:
    message = build_message(many_images_run(800), top_limit=0)

    payloads = discord_payloads(message)

    assert len(payloads) == 10
    text = all_text(payloads)
    shown = sum(1 for name in _image_names(800) if escape_markdown(name) in text)
    match = re.search(r"\.\.\.and (\d+) more items not sent", text)
    assert match is not None
    assert shown < 800
    assert shown + int(match.group(1)) == 800


def test_cut_text_counts_missing_lines() -> None:
    message = build_message(many_images_run(400))
    lines = render_text(message).split("\n")

    payloads = discord_payloads(message, text_only=True)

    assert len(payloads) == 10
    last = payloads[-1]["content"]
    match = re.search(r"\.\.\.and (\d+) more lines not sent", last)
    assert match is not None
    sent_lines = sum(len(payload["content"].split("\n")) for payload in payloads) - 1
    assert sent_lines + int(match.group(1)) == len(lines)


def test_long_value_continues_in_fields() -> None:
    lines = [f"line {number:03d} " + "x" * 40 for number in range(100)]
    message = NotificationMessage(
        title="long",
        summary=(),
        sections=(Section("s", "Section", (Item("big", "\n".join(lines)),)),),
    )

    payloads = discord_payloads(message)

    fields = [f for p in payloads for e in p.get("embeds", []) for f in e.get("fields", [])]
    assert len(fields) > 1
    assert fields[1]["name"] == "big (continued)"
    assert "\n".join(field["value"] for field in fields) == "\n".join(lines)
    for payload in payloads:
        assert limit_violations(payload) == []


def test_long_names_and_title_clipped() -> None:
    message = NotificationMessage(
        title="t" * 3000,
        summary=("s" * 2500,),
        sections=(Section("s", "S" * 300, (Item("n" * 300, "v" * 3000),)),),
    )

    payloads = discord_payloads(message)

    for payload in payloads:
        assert limit_violations(payload) == []
    values = "".join(f["value"] for p in payloads for e in p.get("embeds", []) for f in e["fields"])
    assert values == "v" * 3000


def test_markdown_and_mentions_escaped() -> None:
    message = NotificationMessage(
        title="@everyone",
        summary=(),
        sections=(Section("s", "S", (Item("my_app__x", "*bold*"),)),),
    )

    payload = discord_payloads(message)[0]

    field = payload["embeds"][0]["fields"][0]
    assert field["name"] == r"my\_app\_\_x"
    assert field["value"] == r"\*bold\*"
    assert payload["allowed_mentions"] == {"parse": []}


def test_smaller_limits_are_honoured() -> None:
    limits = DiscordLimits(fields_per_embed=5, embeds_per_message=2, max_messages=50)
    message = build_message(many_images_run(30))

    payloads = discord_payloads(message, limits=limits)

    for payload in payloads:
        assert len(payload.get("embeds", [])) <= 2
        for embed in payload.get("embeds", []):
            assert len(embed.get("fields", [])) <= 5
    assert FIELDS == 25
