"""Normalise service definitions and merge them the way Compose merges several files.

The rules follow the Compose specification's merge section and ``compose-go``'s
``override`` package for the fields that discovery reads:

- mappings merge key by key, and the later file wins for scalars such as ``image``;
- ``environment`` and ``labels`` merge by variable or label name, whether they are
  written as a list or a mapping;
- ``command``, ``entrypoint`` and ``healthcheck.test`` are replaced, not appended;
- ``profiles`` and other sequences are appended, dropping repeated entries;
- ``x-`` keys are replaced;
- ``!reset`` removes a value and ``!override`` replaces it without merging.

NOTE: compose-go also deduplicates ``ports`` and ``volumes`` by target. Here they are
only deduplicated when two entries are written identically. That is enough for finding
images, but not for rebuilding a full ``docker compose config``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hullcheck.discovery.compose_yaml import OVERRIDE_TAG, RESET_TAG

_REPLACED_SERVICE_KEYS = frozenset({"command", "entrypoint"})


@dataclass(frozen=True)
class Unresolved:
    """A string whose interpolation failed; the problem is recorded where it failed."""

    text: str


def is_reset(value: Any) -> bool:
    return isinstance(value, dict) and len(value) == 1 and RESET_TAG in value


def is_override(value: Any) -> bool:
    return isinstance(value, dict) and len(value) == 1 and OVERRIDE_TAG in value


def normalise_service(config: dict[str, Any], base_dir: Path) -> dict[str, Any]:
    """Return ``config`` with the short forms that matter for merging expanded.

    ``build: DIR`` becomes ``{context: DIR}``, list forms of ``environment`` and
    ``labels`` become mappings, ``extends: NAME`` becomes ``{service: NAME}``, and each
    ``env_file`` entry becomes ``{path, required}`` with ``path`` absolute, relative
    paths being taken from ``base_dir``.
    """
    normalisers: dict[str, Callable[[Any], Any]] = {
        "build": _normalise_build,
        "environment": _normalise_environment,
        "labels": _normalise_labels,
        "extends": _normalise_extends,
        "profiles": _normalise_sequence,
        "env_file": lambda value: _normalise_env_files(value, base_dir),
    }
    result = dict(config)
    for key, normalise in normalisers.items():
        if key in result:
            result[key] = _apply_inside_tags(result[key], normalise)
    return result


def merge_services(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """Merge the service definition ``override`` (a later file) onto ``base``."""
    return _merge_mapping(base, override, ())


def strip_tags(value: Any) -> Any:
    """Drop ``!reset`` values and unwrap ``!override`` ones that have nothing to act on."""
    if is_override(value):
        return strip_tags(value[OVERRIDE_TAG])
    if isinstance(value, dict):
        return {key: strip_tags(item) for key, item in value.items() if not is_reset(item)}
    if isinstance(value, list):
        return [strip_tags(item) for item in value if not is_reset(item)]
    return value


def _merge_mapping(
    base: dict[str, Any], override: dict[str, Any], path: tuple[str, ...]
) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        if is_reset(value):
            merged.pop(key, None)
        elif key not in merged or key.startswith("x-") or is_override(value):
            merged[key] = strip_tags(value)
        else:
            merged[key] = _merge_value(merged[key], value, (*path, key))
    return merged


def _merge_value(base: Any, override: Any, path: tuple[str, ...]) -> Any:
    replaced = (len(path) == 1 and path[0] in _REPLACED_SERVICE_KEYS) or path == (
        "healthcheck",
        "test",
    )
    if replaced:
        return strip_tags(override)
    if isinstance(base, dict) and isinstance(override, dict):
        return _merge_mapping(base, override, path)
    if isinstance(base, list) and isinstance(override, list):
        merged = list(base)
        for item in strip_tags(override):
            if item not in merged:
                merged.append(item)
        return merged
    return strip_tags(override)


def _apply_inside_tags(value: Any, normalise: Callable[[Any], Any]) -> Any:
    if is_override(value):
        return {OVERRIDE_TAG: normalise(value[OVERRIDE_TAG])}
    if is_reset(value):
        return value
    return normalise(value)


def _normalise_build(value: Any) -> Any:
    if isinstance(value, str | Unresolved):
        return {"context": value}
    return value


def _normalise_environment(value: Any) -> Any:
    if not isinstance(value, list):
        return value
    mapping: dict[str, Any] = {}
    for item in value:
        if isinstance(item, Unresolved):
            continue
        name, equals, text = str(item).partition("=")
        mapping[name] = text if equals else None
    return mapping


def _normalise_labels(value: Any) -> Any:
    if isinstance(value, list):
        mapping: dict[str, Any] = {}
        for item in value:
            if isinstance(item, Unresolved):
                continue
            name, _, text = str(item).partition("=")
            mapping[name] = text
        return mapping
    if isinstance(value, dict):
        return {name: _label_text(text) for name, text in value.items()}
    return value


def _label_text(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return value


def _normalise_extends(value: Any) -> Any:
    if isinstance(value, str):
        return {"service": value}
    return value


def _normalise_sequence(value: Any) -> Any:
    if isinstance(value, list):
        return [item for item in value if not isinstance(item, Unresolved)]
    return value


def _normalise_env_files(value: Any, base_dir: Path) -> Any:
    entries = value if isinstance(value, list) else [value]
    normalised: list[dict[str, Any]] = []
    for entry in entries:
        if isinstance(entry, str):
            entry = {"path": entry}
        if not isinstance(entry, dict) or not isinstance(entry.get("path"), str):
            continue
        path = Path(entry["path"])
        normalised.append(
            {
                **entry,
                "path": path if path.is_absolute() else base_dir / path,
                "required": entry.get("required", True) is not False,
            }
        )
    return normalised
