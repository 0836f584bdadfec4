"""Plain-text rendering of a message, and paging of text on line boundaries."""

from __future__ import annotations

from hullcheck.notification.models import NotificationMessage


def render_text(message: NotificationMessage) -> str:
    """Render the whole message as plain text, one item per line, nothing left out."""
    lines = [message.title, *message.summary]
    if message.report_location:
        lines.append(f"Full report: {message.report_location}")
    for section in message.sections:
        lines.append("")
        lines.append(f"{section.title}:")
        for item in section.items:
            first, *rest = item.value.splitlines() or [""]
            lines.append(f"- {item.name}: {first}" if first else f"- {item.name}")
            lines.extend(f"  {line}" for line in rest)
        lines.extend(section.notes)
    return "\n".join(lines)


def split_long_line(line: str, limit: int) -> list[str]:
    """Cut a line longer than ``limit`` into pieces of at most ``limit`` characters."""
    if len(line) <= limit:
        return [line]
    return [line[start : start + limit] for start in range(0, len(line), limit)]


def paginate(text: str, limit: int) -> list[str]:
    """Split ``text`` into pages of at most ``limit`` characters, on line boundaries.

    Only a single line longer than ``limit`` is cut inside the line. Joining the pages
    with newlines gives back every line of ``text``.
    """
    if limit < 1:
        raise ValueError(f"page limit must be at least 1 character, got {limit}")
    pages: list[str] = []
    current: list[str] = []
    size = 0
    for line in text.split("\n"):
        for piece in split_long_line(line, limit):
            added = len(piece) + (1 if current else 0)
            if current and size + added > limit:
                pages.append("\n".join(current))
                current, size = [], 0
                added = len(piece)
            current.append(piece)
            size += added
    if current and any(current):
        pages.append("\n".join(current))
    return pages


def paginate_capped(text: str, limit: int, max_pages: int, more_text: str) -> list[str]:
    """Page ``text`` like ``paginate``, but into at most ``max_pages`` pages.

    When the text does not fit, the last page ends with ``more_text`` formatted with the
    number of lines left out (``{count}``), so the cut is visible and counted.
    """
    pages = paginate(text, limit)
    if len(pages) <= max_pages:
        return pages
    kept = pages[: max_pages - 1]
    last_lines = pages[max_pages - 1].split("\n")
    dropped = sum(len(page.split("\n")) for page in pages[max_pages:])
    while True:
        note = more_text.format(count=dropped)
        candidate = "\n".join([*last_lines, note])
        if len(candidate) <= limit or not last_lines:
            break
        last_lines.pop()
        dropped += 1
    return [*kept, candidate[:limit]]
