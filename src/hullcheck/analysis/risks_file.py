"""The risk register file: a YAML list of acceptances, meant to be reviewed like code.

The file looks like this::

    version: 1
    risks:
    - id: CVE-2023-45853
      image: docker.io/library/postgres:16
      reason: minizip is not used; Debian will not fix it
      expires: 2026-12-31
      accepted_on: 2026-03-01

``hullcheck accept`` appends an entry after the last one, so hand-written comments and the
order of the other entries stay as they are. Every write is atomic and leaves mode 0600.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
from collections.abc import Callable, Iterator
from datetime import date, datetime
from pathlib import Path
from typing import Any

import yaml

from hullcheck.analysis.models import Acceptance, VexJustification
from hullcheck.analysis.risks import (
    RiskRegisterError,
    normalise_image,
    normalise_package,
    normalise_reason,
    normalise_vulnerability_id,
    parse_expiry,
    same_scope,
    scope_text,
)
from hullcheck.errors import HullcheckError
from hullcheck.fileio import write_atomic
from hullcheck.paths import config_dir

logger = logging.getLogger(__name__)

RISKS_FILE_ENV = "HULLCHECK_RISKS_FILE"
RISKS_FILE_NAME = "risks.yaml"
REGISTER_VERSION = 1

_HEADER = (
    "# hullcheck risk register: vulnerabilities accepted until a date.\n"
    "# `hullcheck accept` adds entries; review every change like code. See docs/risk.md.\n"
)
_KEYS = (
    "id",
    "image",
    "package",
    "reason",
    "expires",
    "justification",
    "accepted_on",
    "accepted_by",
)


def default_risks_path(*, create: bool = False) -> Path:
    """Return ``$HULLCHECK_RISKS_FILE``, else ``config_dir()/risks.yaml``."""
    override = os.environ.get(RISKS_FILE_ENV)
    if override:
        return Path(override).expanduser()
    return config_dir(create=create) / RISKS_FILE_NAME


def load_register(path: Path) -> list[Acceptance]:
    """Read every entry of the register; a missing file is an empty register.

    Raises RiskRegisterError naming the file, the entry and the fix for invalid YAML, an
    unknown key or an invalid value. Expired entries are valid.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return []
    except (OSError, UnicodeDecodeError) as error:
        raise RiskRegisterError(
            f"cannot read the risk register {path}: {error}",
            hint="check the file's permissions, or choose another file with --risks-file",
        ) from error
    return _parse(text, path)


def add_to_register(path: Path, acceptance: Acceptance, *, today: date) -> None:
    """Append ``acceptance`` to the register at ``path``, creating the file if needed.

    Raises RiskRegisterError when an entry with the same ID, image and package exists,
    active or expired, because two entries for one scope would leave the reviewer to guess
    which one applies.
    """
    with _locked(path):
        existing = load_register(path)
        for entry in existing:
            if same_scope(entry, acceptance):
                state = "expired" if entry.expired(today) else "active"
                raise RiskRegisterError(
                    f"{entry.vulnerability_id} is already accepted for {scope_text(entry)} "
                    f"until {entry.expires.isoformat()} ({state}) in {path}",
                    hint="edit that entry's expires and reason to renew or change it",
                )
        text = _appended(path, existing, acceptance)
        try:
            write_atomic(path, text, mode=0o600)
        except HullcheckError as error:
            raise RiskRegisterError(error.message, hint=error.hint) from error
    logger.info(
        "Accepted %s for %s in %s", acceptance.vulnerability_id, scope_text(acceptance), path
    )


def render_register(acceptances: list[Acceptance]) -> str:
    """Render a whole register file, header comment included."""
    document = {"version": REGISTER_VERSION, "risks": [_mapping(a) for a in acceptances]}
    if not acceptances:
        return _HEADER + f"version: {REGISTER_VERSION}\nrisks: []\n"
    return _HEADER + _dump(document)


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """Serialise writers of one register, so two ``accept`` runs cannot lose an entry."""
    lock_path = path.parent / f".{path.name}.lock"
    try:
        descriptor = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError as error:
        raise RiskRegisterError(
            f"cannot create the lock file {lock_path}: {error.strerror or error}",
            hint=f"create the directory {path.parent}, or choose another file with --risks-file",
        ) from error
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX)
        yield
    finally:
        os.close(descriptor)


def _appended(path: Path, existing: list[Acceptance], acceptance: Acceptance) -> str:
    """Return the file text with ``acceptance`` after the last entry.

    The entry is inserted as text at the end of the ``risks`` list, so the rest of the file
    stays byte for byte. When the layout does not allow that (no file yet, an empty or
    flow-style list, or a result that does not read back), the whole file is rendered anew.
    """
    if not path.exists():
        return render_register([acceptance])
    text = path.read_text(encoding="utf-8")
    inserted = _insert_entry(text, acceptance)
    if inserted is not None:
        try:
            if _parse(inserted, path) == [*existing, acceptance]:
                return inserted
        except RiskRegisterError:
            pass
    logger.debug("Rewriting %s because the new entry cannot be appended in place", path)
    return render_register([*existing, acceptance])


def _insert_entry(text: str, acceptance: Acceptance) -> str | None:
    try:
        root = yaml.compose(text)
    except yaml.YAMLError:
        return None
    if not isinstance(root, yaml.MappingNode):
        return None
    sequence = next(
        (value for key, value in root.value if getattr(key, "value", None) == "risks"), None
    )
    if not isinstance(sequence, yaml.SequenceNode) or sequence.flow_style or not sequence.value:
        return None

    column = sequence.start_mark.column
    entry = _dump([_mapping(acceptance)])
    indented = "".join(" " * column + line for line in entry.splitlines(keepends=True))
    position = _line_end(text, _content_end(sequence.value[-1]))
    head = text[:position]
    if head and not head.endswith("\n"):
        head += "\n"
    return head + indented + text[position:]


def _content_end(node: yaml.Node) -> int:
    """Return where the last value inside ``node`` ends.

    A block collection ends only where the next token starts, after any comment lines
    that follow it, so the position comes from the scalars inside.
    """
    if isinstance(node, yaml.MappingNode) and node.value:
        return max(max(_content_end(key), _content_end(value)) for key, value in node.value)
    if isinstance(node, yaml.SequenceNode) and node.value:
        return max(_content_end(item) for item in node.value)
    return int(node.end_mark.index)


def _line_end(text: str, position: int) -> int:
    """Return the start of the line after ``position``, keeping a trailing comment."""
    if position > 0 and text[position - 1] == "\n":
        # Block scalars (| and >) end after their last line break.
        return position
    newline = text.find("\n", position)
    return len(text) if newline < 0 else newline + 1


def _parse(text: str, path: Path) -> list[Acceptance]:
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise RiskRegisterError(
            f"invalid YAML in the risk register {path}: {error}",
            hint="fix the syntax at that line",
        ) from error
    if document is None:
        return []
    if not isinstance(document, dict) or not isinstance(document.get("risks") or [], list):
        raise RiskRegisterError(
            f"the risk register {path} must be a mapping with a 'risks' list",
            hint="see docs/risk.md for the layout",
        )
    version = document.get("version", REGISTER_VERSION)
    if version != REGISTER_VERSION:
        raise RiskRegisterError(
            f"the risk register {path} has version {version!r}; this hullcheck reads "
            f"version {REGISTER_VERSION}",
            hint="upgrade hullcheck, or set version: 1",
        )
    unknown = sorted(str(key) for key in document if key not in {"version", "risks"})
    if unknown:
        raise RiskRegisterError(
            f"unknown key {', '.join(unknown)} in the risk register {path}",
            hint="the top level takes only 'version' and 'risks'",
        )
    return [_entry(item, index, path) for index, item in enumerate(document.get("risks") or [], 1)]


def _entry(item: object, index: int, path: Path) -> Acceptance:
    if not isinstance(item, dict):
        raise RiskRegisterError(
            f"entry {index} in the risk register {path} is not a mapping",
            hint="each entry needs at least id, reason and expires",
        )
    label = f"entry {index} ({item.get('id', 'no id')}) in the risk register {path}"
    unknown = sorted(str(key) for key in item if key not in _KEYS)
    if unknown:
        raise RiskRegisterError(
            f"unknown key {', '.join(unknown)} in {label}",
            hint=f"use only: {', '.join(_KEYS)}",
        )
    try:
        return Acceptance(
            vulnerability_id=normalise_vulnerability_id(_required_text(item, "id")),
            reason=normalise_reason(_required_text(item, "reason")),
            expires=_required_date(item, "expires"),
            image=_optional(item, "image", normalise_image),
            package=_optional(item, "package", normalise_package),
            justification=_justification(item.get("justification")),
            accepted_on=_optional_date(item, "accepted_on"),
            accepted_by=_optional(item, "accepted_by", str.strip),
        )
    except RiskRegisterError as error:
        raise RiskRegisterError(f"{label}: {error.message}", hint=error.hint) from error


def _required_text(item: dict[Any, Any], key: str) -> str:
    value = item.get(key)
    if not isinstance(value, str) or not value.strip():
        raise RiskRegisterError(f"'{key}' is missing or not text", hint=f"add {key}: VALUE")
    return value


def _optional(item: dict[Any, Any], key: str, convert: Callable[[str], str]) -> str | None:
    value = item.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise RiskRegisterError(f"'{key}' is not text", hint=f"quote the value of {key}")
    return convert(value)


def _required_date(item: dict[Any, Any], key: str) -> date:
    value = _optional_date(item, key)
    if value is None:
        raise RiskRegisterError(f"'{key}' is missing", hint=f"add {key}: YYYY-MM-DD")
    return value


def _optional_date(item: dict[Any, Any], key: str) -> date | None:
    value = item.get(key)
    if value is None:
        return None
    # PyYAML reads an unquoted 2026-12-31 as a date, and a quoted one as text.
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        return parse_expiry(value, field=f"'{key}' date")
    raise RiskRegisterError(f"'{key}' is not a date", hint=f"write {key}: YYYY-MM-DD")


def _justification(value: object) -> VexJustification | None:
    if value is None:
        return None
    try:
        return VexJustification(str(value))
    except ValueError:
        allowed = ", ".join(item.value for item in VexJustification)
        raise RiskRegisterError(
            f"invalid justification {value!r}", hint=f"use one of: {allowed}"
        ) from None


def _mapping(acceptance: Acceptance) -> dict[str, object]:
    values: dict[str, object | None] = {
        "id": acceptance.vulnerability_id,
        "image": acceptance.image,
        "package": acceptance.package,
        "reason": acceptance.reason,
        "expires": acceptance.expires,
        "justification": acceptance.justification.value if acceptance.justification else None,
        "accepted_on": acceptance.accepted_on,
        "accepted_by": acceptance.accepted_by,
    }
    return {key: value for key, value in values.items() if value is not None}


def _dump(data: object) -> str:
    # A large width keeps each reason on one line, which reads better in a diff.
    return yaml.safe_dump(
        data, sort_keys=False, allow_unicode=True, default_flow_style=False, width=4096
    )
