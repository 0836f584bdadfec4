"""Read Compose YAML the way Compose v2, which uses go-yaml v3, reads it.

PyYAML implements YAML 1.1, where ``on``, ``yes`` and ``no`` are booleans, ``22:22``
is a base-60 integer and ``2024-01-01`` is a date. In go-yaml v3 these stay strings,
so the loader here only resolves ``true``/``false``, decimal, octal (``0o17`` and, as
go-yaml still does, ``017``) and hex integers, and floats. Merge keys (``<<``, also
with a list of aliases) follow the YAML merge-key rule that go-yaml implements.

Compose's ``!reset`` and ``!override`` tags become single-key mappings under the keys
``RESET_TAG`` and ``OVERRIDE_TAG`` (which start with a NUL character, so no real Compose
file uses them). Interpolation then still reaches the values inside, and
``compose_merge`` applies the tags.
"""

from __future__ import annotations

import difflib
import re
from pathlib import Path
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from hullcheck.discovery.compose_errors import MissingFileError
from hullcheck.discovery.models import DiscoveryError

RESET_TAG = "\x00!reset"
OVERRIDE_TAG = "\x00!override"

_MERGE_TAG = "tag:yaml.org,2002:merge"


_REPLACED_TAGS = {
    "tag:yaml.org,2002:bool",
    "tag:yaml.org,2002:int",
    "tag:yaml.org,2002:float",
    "tag:yaml.org,2002:timestamp",
}


class ComposeLoader(yaml.SafeLoader):
    """A SafeLoader with YAML 1.2 core scalars and Compose's ``!reset``/``!override``."""

    yaml_implicit_resolvers = {  # noqa: RUF012 (PyYAML reads it as a class attribute)
        first: [(tag, regexp) for tag, regexp in resolvers if tag not in _REPLACED_TAGS]
        for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }

    def flatten_mapping(self, node: MappingNode) -> None:
        """Apply merge keys: explicit keys win, then the earliest merged mapping.

        This is the rule of the YAML merge-key spec and of go-yaml. PyYAML 6.0.4 lets
        the last mapping of ``<<: [*a, *b]`` win, so the rule is implemented here.
        """
        sources: list[list[tuple[Node, Node]]] = []
        explicit: list[tuple[Node, Node]] = []
        for key_node, value_node in node.value:
            if key_node.tag == "tag:yaml.org,2002:value":
                key_node.tag = "tag:yaml.org,2002:str"
            if key_node.tag != _MERGE_TAG:
                explicit.append((key_node, value_node))
                continue
            if isinstance(value_node, MappingNode):
                merged_nodes = [value_node]
            elif isinstance(value_node, SequenceNode):
                merged_nodes = value_node.value
            else:
                raise yaml.constructor.ConstructorError(
                    "while constructing a mapping",
                    node.start_mark,
                    f"expected a mapping or a list of mappings to merge, found {value_node.id}",
                    value_node.start_mark,
                )
            for merged in merged_nodes:
                if not isinstance(merged, MappingNode):
                    raise yaml.constructor.ConstructorError(
                        "while constructing a mapping",
                        node.start_mark,
                        f"expected a mapping to merge, found {merged.id}",
                        merged.start_mark,
                    )
                self.flatten_mapping(merged)
                sources.append(merged.value)

        if sources:
            # Later pairs override earlier ones during construction, so the first
            # source goes last and the explicit keys after all sources.
            pairs: list[tuple[Node, Node]] = []
            for source in reversed(sources):
                pairs.extend(source)
            node.value = pairs + explicit

    def construct_mapping(self, node: MappingNode, deep: bool = False) -> dict[Any, Any]:
        mapping = super().construct_mapping(node, deep=deep)
        # Compose addresses services, labels and variables by name, so keys such as 80 or
        # true are kept as text rather than failing later as non-string keys.
        return {_key_text(key): value for key, value in mapping.items()}


def _key_text(key: Any) -> Any:
    if isinstance(key, bool):
        return "true" if key else "false"
    if isinstance(key, int | float):
        return str(key)
    return key


ComposeLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)
ComposeLoader.add_implicit_resolver(
    "tag:yaml.org,2002:int",
    re.compile(r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$"),
    list("-+0123456789"),
)
ComposeLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(
        r"^(?:[-+]?(?:\.[0-9]+|[0-9]+\.[0-9]*)(?:[eE][-+]?[0-9]+)?"
        r"|[-+]?[0-9]+[eE][-+]?[0-9]+"
        r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"
    ),
    list("-+0123456789."),
)


def _construct_bool(loader: ComposeLoader, node: ScalarNode) -> bool:
    return str(loader.construct_scalar(node)).lower() == "true"


def _construct_int(loader: ComposeLoader, node: ScalarNode) -> int:
    text = str(loader.construct_scalar(node))
    if text.startswith("0o"):
        return int(text[2:], 8)
    if text.startswith("0x"):
        return int(text[2:], 16)
    # go-yaml v3 still reads YAML 1.1 octals such as 0777, as its README states. A leading
    # zero followed by an 8 or 9 gives a decimal number.
    digits = text.lstrip("+-")
    if len(digits) > 1 and digits.startswith("0") and set(digits) <= set("01234567"):
        return int(text, 8)
    return int(text, 10)


def _construct_reset(loader: ComposeLoader, node: Node) -> dict[str, Any]:
    return {RESET_TAG: None}


def _construct_override(loader: ComposeLoader, node: Node) -> dict[str, Any]:
    value: Any
    if isinstance(node, MappingNode):
        value = loader.construct_mapping(node, deep=True)
    elif isinstance(node, SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_scalar(node)  # type: ignore[arg-type]
    return {OVERRIDE_TAG: value}


ComposeLoader.add_constructor("tag:yaml.org,2002:bool", _construct_bool)
ComposeLoader.add_constructor("tag:yaml.org,2002:int", _construct_int)
ComposeLoader.add_constructor("!reset", _construct_reset)
ComposeLoader.add_constructor("!override", _construct_override)


def load_documents(path: Path) -> list[dict[str, Any]]:
    """Return the documents of the Compose file ``path``, each a mapping.

    Raises DiscoveryError naming the file, and the line where known, when the file
    cannot be read, is not valid YAML, repeats a key, or is not a mapping.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as error:
        raise MissingFileError(
            f"compose file not found: {path}", hint="check the path or the include entry"
        ) from error
    except (OSError, UnicodeDecodeError) as error:
        raise DiscoveryError(f"failed to read compose file {path}: {error}") from error

    documents: list[dict[str, Any]] = []
    loader = ComposeLoader(text)
    try:
        while loader.check_node():
            node = loader.get_node()
            if node is None:
                continue
            _reject_duplicate_keys(node, path, set())
            data = loader.construct_document(node)
            if data is None:
                continue
            if not isinstance(data, dict):
                line = node.start_mark.line + 1
                raise DiscoveryError(
                    f"invalid compose file {path}, line {line}: the top level must be a "
                    f"mapping with keys such as 'services', not a {type(data).__name__}"
                )
            _check_top_level(node, data, path)
            documents.append(data)
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        where = f", line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = error.problem or "invalid YAML"
        raise DiscoveryError(
            f"invalid YAML in {path}{where}: {problem}", hint="fix the YAML syntax"
        ) from error
    except yaml.YAMLError as error:
        raise DiscoveryError(f"invalid YAML in {path}: {error}") from error
    finally:
        loader.dispose()

    if not documents:
        raise DiscoveryError(
            f"compose file {path} is empty", hint="add a 'services' section or remove the file"
        )
    return documents


TOP_LEVEL_KEYS = frozenset(
    {"version", "name", "include", "services", "networks", "volumes", "secrets", "configs"}
)
"""Top-level keys of the Compose specification; ``x-`` keys are extensions."""

_MAPPING_SECTIONS = frozenset({"services", "networks", "volumes", "secrets", "configs"})


def _check_top_level(node: Node, data: dict[str, Any], path: Path) -> None:
    """Reject what Compose rejects at the top level: unknown keys and sections that are not mappings.

    Raises DiscoveryError naming the file, the line and the key.
    """
    key_lines: dict[str, int] = {}
    value_lines: dict[str, int] = {}
    if isinstance(node, MappingNode):
        for key, value in node.value:
            if isinstance(key, ScalarNode):
                key_lines[str(key.value)] = key.start_mark.line + 1
                value_lines[str(key.value)] = value.start_mark.line + 1
    for key, value in data.items():
        name = str(key)
        if name not in TOP_LEVEL_KEYS and not name.startswith("x-"):
            close = difflib.get_close_matches(name, sorted(TOP_LEVEL_KEYS), n=1)
            hint = f"did you mean '{close[0]}:'? " if close else ""
            raise DiscoveryError(
                f"invalid compose file {path}, line {key_lines.get(name, 0)}: unknown top-level key {name!r}",
                hint=f"{hint}Compose rejects unknown keys; prefix one with x- to keep it as an extension",
            )
        if name in _MAPPING_SECTIONS and value is not None and not isinstance(value, dict):
            raise DiscoveryError(
                f"invalid compose file {path}, line {value_lines.get(name, 0)}: "
                f"'{name}' must be a mapping, not a {type(value).__name__}",
                hint=f"write {name}: as keys with settings under them",
            )


def _reject_duplicate_keys(node: Node, path: Path, visited: set[int]) -> None:
    """Raise DiscoveryError for a key written twice in one mapping, as go-yaml does.

    Runs on the node graph before construction, because PyYAML silently keeps the last
    value and, while applying merge keys, rewrites nodes so that merged keys look
    duplicated.
    """
    if id(node) in visited:
        return
    visited.add(id(node))
    if isinstance(node, MappingNode):
        seen: dict[str, ScalarNode] = {}
        for key_node, value_node in node.value:
            if isinstance(key_node, ScalarNode) and key_node.tag != _MERGE_TAG:
                if key_node.value in seen:
                    first_line = seen[key_node.value].start_mark.line + 1
                    line = key_node.start_mark.line + 1
                    raise DiscoveryError(
                        f"invalid YAML in {path}, line {line}: the key "
                        f"{key_node.value!r} is already defined on line {first_line}",
                        hint="remove one of the two entries",
                    )
                seen[key_node.value] = key_node
            _reject_duplicate_keys(key_node, path, visited)
            _reject_duplicate_keys(value_node, path, visited)
    elif isinstance(node, SequenceNode):
        for item in node.value:
            _reject_duplicate_keys(item, path, visited)
