"""Discord webhook payloads for a message, paged so that every payload fits Discord's limits.

Each section becomes one or more embeds with one field per item. Fields, embeds and
messages are filled up to the limits and then continued in the next embed or message.
Nothing is dropped silently: an item longer than a field continues in the next field, and
when the message count limit is reached the last message states how many items are missing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from hullcheck.notification.models import Level, NotificationMessage, Section
from hullcheck.notification.text import paginate, paginate_capped, render_text


@dataclass(frozen=True)
class DiscordLimits:
    """Discord's message limits, some lowered to keep a margin.

    Discord documents these limits under Create Message and Embed Limits. A message has at
    most 2000 characters of content and 10 embeds. An embed has at most a 256-character
    title, a 4096-character description, 25 fields, and a 2048-character footer. A field
    name has at most 256 characters and a value 1024. All embeds of one message together
    have at most 6000 characters.
    """

    content: int = 1900
    embeds_per_message: int = 10
    fields_per_embed: int = 25
    title: int = 256
    description: int = 4096
    field_name: int = 256
    field_value: int = 1024
    footer: int = 2048
    message_total: int = 5900
    max_messages: int = 10
    """More messages than this are cut, with a note saying how many items are missing."""


LEVEL_COLORS = {Level.INFO: 0x3498DB, Level.WARNING: 0xF1C40F, Level.FAILURE: 0xE74C3C}

_MARKDOWN = re.compile(r"([\\*_~|`])")


def escape_markdown(text: str) -> str:
    """Escape Discord markdown so that names like ``my_app__x`` show as written."""
    return _MARKDOWN.sub(r"\\\1", text)


@dataclass
class _Embed:
    title: str
    description: str = ""
    fields: list[tuple[str, str]] = field(default_factory=list)
    footer: str = ""
    items: set[tuple[str, int]] = field(default_factory=set)
    """(section key, item index) of every item with a field in this embed."""

    def size(self) -> int:
        return (
            len(self.title)
            + len(self.description)
            + len(self.footer)
            + sum(len(name) + len(value) for name, value in self.fields)
        )

    def payload(self, color: int) -> dict[str, Any]:
        embed: dict[str, Any] = {"title": self.title, "color": color}
        if self.description:
            embed["description"] = self.description
        if self.fields:
            embed["fields"] = [
                {"name": name, "value": value, "inline": False} for name, value in self.fields
            ]
        if self.footer:
            embed["footer"] = {"text": self.footer}
        return embed


def discord_payloads(
    message: NotificationMessage,
    *,
    text_only: bool = False,
    username: str | None = None,
    limits: DiscordLimits | None = None,
) -> list[dict[str, Any]]:
    """Return the webhook payloads for ``message``, to be sent in order."""
    limits = limits or DiscordLimits()
    base: dict[str, Any] = {"allowed_mentions": {"parse": []}}
    if username:
        base["username"] = username[:80]

    if text_only:
        pages = paginate_capped(
            escape_markdown(render_text(message)),
            limits.content,
            limits.max_messages,
            "...and {count} more lines not sent: see the full report",
        )
        return [{**base, "content": page} for page in pages]

    header = paginate(_header_text(message), limits.content)
    embeds = [embed for section in message.sections for embed in _section_embeds(section, limits)]
    messages = _pack(header, embeds, limits)
    color = LEVEL_COLORS[message.level]
    payloads = []
    for index, (content, packed) in enumerate(messages, start=1):
        payload = dict(base)
        if index > 1 and not content:
            content = _clip(
                f"{escape_markdown(message.title)} ({index}/{len(messages)})", limits.content
            )
        if content:
            payload["content"] = content
        if packed:
            payload["embeds"] = [embed.payload(color) for embed in packed]
        payloads.append(payload)
    return payloads


def payload_size(payload: dict[str, Any]) -> int:
    """Count the characters Discord counts against the 6000-character embed total."""
    total = 0
    for embed in payload.get("embeds", []):
        total += len(embed.get("title", "")) + len(embed.get("description", ""))
        total += len(embed.get("footer", {}).get("text", ""))
        total += len(embed.get("author", {}).get("name", ""))
        total += sum(len(f["name"]) + len(f["value"]) for f in embed.get("fields", []))
    return total


def _header_text(message: NotificationMessage) -> str:
    lines = [f"**{escape_markdown(message.title)}**"]
    lines.extend(escape_markdown(line) for line in message.summary)
    if message.report_location:
        lines.append(f"Full report: {escape_markdown(message.report_location)}")
    return "\n".join(lines)


def _section_embeds(section: Section, limits: DiscordLimits) -> list[_Embed]:
    title = _clip(escape_markdown(section.title), limits.title)
    continued = _clip(escape_markdown(f"{section.title} (continued)"), limits.title)
    notes = escape_markdown("\n".join(section.notes))
    footer = notes if len(notes) <= limits.footer else ""
    descriptions = paginate(notes, limits.description) if notes and not footer else []

    embeds = [_Embed(title=title, description=text) for text in descriptions]
    current = embeds[-1] if embeds else _Embed(title=title)
    if not embeds:
        embeds.append(current)
    budget = limits.message_total - len(footer)
    for index, item in enumerate(section.items):
        for name, value in _item_fields(item.name, item.value, limits):
            full = len(current.fields) >= limits.fields_per_embed
            if full or current.size() + len(name) + len(value) > budget:
                current = _Embed(title=continued)
                embeds.append(current)
            current.fields.append((name, value))
            current.items.add((section.key, index))
    current.footer = footer
    return embeds


def _item_fields(name: str, value: str, limits: DiscordLimits) -> list[tuple[str, str]]:
    shown = _clip(escape_markdown(name) or "-", limits.field_name)
    chunks = paginate(escape_markdown(value), limits.field_value) or ["-"]
    later = _clip(escape_markdown(f"{name} (continued)"), limits.field_name)
    return [(shown if index == 0 else later, chunk) for index, chunk in enumerate(chunks)]


def _clip(text: str, limit: int) -> str:
    """Cut ``text`` to ``limit`` characters, ending in an ellipsis when cut."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _pack(
    header: list[str], embeds: list[_Embed], limits: DiscordLimits
) -> list[tuple[str, list[_Embed]]]:
    """Group embeds into messages; the header pages go first, as message content."""
    messages: list[tuple[str, list[_Embed]]] = [(page, []) for page in header] or [("", [])]
    for embed in embeds:
        packed = messages[-1][1]
        fits = (
            len(packed) < limits.embeds_per_message
            and sum(e.size() for e in packed) + embed.size() <= limits.message_total
        )
        if fits:
            packed.append(embed)
        else:
            messages.append(("", [embed]))
    if len(messages) <= limits.max_messages:
        return messages
    return _cut(messages, limits)


def _cut(
    messages: list[tuple[str, list[_Embed]]], limits: DiscordLimits
) -> list[tuple[str, list[_Embed]]]:
    """Keep ``max_messages`` messages and end the last one with a count of what is missing."""
    kept = messages[: limits.max_messages]
    dropped = [embed for _, packed in messages[limits.max_messages :] for embed in packed]
    last = kept[-1][1]
    while True:
        kept_items = {item for _, packed in kept for embed in packed for item in embed.items}
        missing = {item for embed in dropped for item in embed.items} - kept_items
        note = _Embed(
            title="Message cut",
            description=(
                f"...and {len(missing)} more items not sent, because Discord messages are "
                f"limited to {limits.max_messages} per notification here: see the full report."
            ),
        )
        fits = (
            len(last) < limits.embeds_per_message
            and sum(e.size() for e in last) + note.size() <= limits.message_total
        )
        if fits or not last:
            last.append(note)
            return kept
        dropped.insert(0, last.pop())
