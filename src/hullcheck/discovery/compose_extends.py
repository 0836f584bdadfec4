"""Resolve ``extends``: within a file, across files, recursively, with cycle detection."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from hullcheck.discovery.compose_merge import Unresolved
from hullcheck.discovery.compose_model import ServiceDefinition, absolute_path, combine
from hullcheck.discovery.models import DiscoveryProblem, ProblemKind

ServiceKey = tuple[Path, str]


class ExtendsResolver:
    """Merge each service onto the service it extends, for the services of one document.

    ``read_file`` returns the services of a file named by ``extends.file``, or None
    when that file cannot be loaded.
    """

    def __init__(self, read_file: Callable[[Path], dict[str, ServiceDefinition] | None]) -> None:
        self._read_file = read_file
        self._resolved: dict[ServiceKey, ServiceDefinition] = {}

    def resolve_all(
        self, path: Path, services: dict[str, ServiceDefinition]
    ) -> dict[str, ServiceDefinition]:
        return {name: self.resolve(path, name, services, ()) for name in services}

    def resolve(
        self,
        path: Path,
        name: str,
        services: dict[str, ServiceDefinition],
        stack: tuple[ServiceKey, ...],
    ) -> ServiceDefinition:
        """Return the service ``name`` of ``path`` with its ``extends`` chain merged in.

        A broken ``extends`` leaves the service as written, without ``extends``, and adds
        a problem to it.
        """
        key = (path, name)
        if key in self._resolved:
            return self._resolved[key]
        definition = services[name]
        extends = definition.config.get("extends")
        if extends is None:
            return definition
        current = replace(
            definition,
            config={k: v for k, v in definition.config.items() if k != "extends"},
            problems=list(definition.problems),
        )

        target = self._find_target(extends, current, path, services, stack)
        if target is None:
            return current
        target_path, target_name, target_services = target
        base = self.resolve(target_path, target_name, target_services, (*stack, key))
        self._resolved[key] = combine(base, current)
        return self._resolved[key]

    def _find_target(
        self,
        extends: Any,
        current: ServiceDefinition,
        path: Path,
        services: dict[str, ServiceDefinition],
        stack: tuple[ServiceKey, ...],
    ) -> tuple[Path, str, dict[str, ServiceDefinition]] | None:
        """Find the service that ``extends`` names, or record why it cannot be used."""
        if isinstance(extends, Unresolved):
            # The interpolation problem is already recorded on the service.
            return None
        where = f"extends of service {current.name} in {path}"

        def fail(message: str, kind: ProblemKind = ProblemKind.INVALID_COMPOSE) -> None:
            current.problems.append(
                DiscoveryProblem(kind=kind, message=message, file=path, service=current.name)
            )

        target_name = extends.get("service") if isinstance(extends, dict) else None
        target_file = extends.get("file") if isinstance(extends, dict) else None
        if not isinstance(target_name, str) or not isinstance(target_file, str | None):
            fail(f"{where} must name a service, with an optional file")
            return None

        target_path, target_services = path, services
        if target_file is not None:
            target_path = absolute_path(path.parent, target_file)
            loaded = self._read_file(target_path)
            if loaded is None:
                fail(f"{where}: failed to load {target_path}", ProblemKind.MISSING_FILE)
                return None
            target_services = loaded

        chain = (*stack, (path, current.name))
        if (target_path, target_name) in chain:
            steps = " -> ".join(f"{file}:{service}" for file, service in chain)
            fail(f"{where}: extends cycle {steps} -> {target_path}:{target_name}")
            return None
        if target_name not in target_services:
            fail(f"{where}: service {target_name} not found in {target_path}")
            return None
        return target_path, target_name, target_services
