"""Discord's documented webhook message limits, checked on a payload."""

from __future__ import annotations

from typing import Any

CONTENT = 2000
EMBEDS = 10
FIELDS = 25
TITLE = 256
DESCRIPTION = 4096
FIELD_NAME = 256
FIELD_VALUE = 1024
FOOTER = 2048
MESSAGE_TOTAL = 6000


def limit_violations(payload: dict[str, Any]) -> list[str]:
    """Return every limit the payload breaks, as readable lines; empty when it fits."""
    problems = []
    content = payload.get("content", "")
    embeds = payload.get("embeds", [])
    if not content and not embeds:
        problems.append("neither content nor embeds")
    if len(content) > CONTENT:
        problems.append(f"content has {len(content)} characters")
    if len(embeds) > EMBEDS:
        problems.append(f"{len(embeds)} embeds")
    total = 0
    for number, embed in enumerate(embeds, start=1):
        title = embed.get("title", "")
        description = embed.get("description", "")
        footer = embed.get("footer", {}).get("text", "")
        fields = embed.get("fields", [])
        if len(title) > TITLE:
            problems.append(f"embed {number}: title has {len(title)} characters")
        if len(description) > DESCRIPTION:
            problems.append(f"embed {number}: description has {len(description)} characters")
        if len(footer) > FOOTER:
            problems.append(f"embed {number}: footer has {len(footer)} characters")
        if len(fields) > FIELDS:
            problems.append(f"embed {number}: {len(fields)} fields")
        for field in fields:
            if not field["name"] or len(field["name"]) > FIELD_NAME:
                problems.append(f"embed {number}: field name has {len(field['name'])} characters")
            if not field["value"] or len(field["value"]) > FIELD_VALUE:
                problems.append(f"embed {number}: field value has {len(field['value'])} characters")
        total += len(title) + len(description) + len(footer)
        total += sum(len(field["name"]) + len(field["value"]) for field in fields)
    if total > MESSAGE_TOTAL:
        problems.append(f"embed text totals {total} characters")
    return problems


def all_text(payloads: list[dict[str, Any]]) -> str:
    """Join every visible string of the payloads, for searching."""
    parts = []
    for payload in payloads:
        parts.append(payload.get("content", ""))
        for embed in payload.get("embeds", []):
            parts.append(embed.get("title", ""))
            parts.append(embed.get("description", ""))
            parts.append(embed.get("footer", {}).get("text", ""))
            for field in embed.get("fields", []):
                parts.append(field["name"])
                parts.append(field["value"])
    return "\n".join(parts)
