"""Load the services of Compose files: interpolation, ``include``, ``extends`` and merging.

Each file goes through the steps of ``compose-go``'s loader: interpolate the file, add
the services of its ``include`` entries, resolve ``extends``, then merge it onto the
files before it. A problem in one service or one include entry is recorded as a
DiscoveryProblem and loading goes on. Only a root file that cannot be read or parsed
raises.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from hullcheck.discovery.compose_extends import ExtendsResolver
from hullcheck.discovery.compose_include import apply_include
from hullcheck.discovery.compose_merge import is_reset, normalise_service
from hullcheck.discovery.compose_model import (
    LoadScope,
    ServiceDefinition,
    combine,
    empty_service,
    missing_variable_warnings,
    record_interpolation_error,
)
from hullcheck.discovery.compose_yaml import load_documents
from hullcheck.discovery.interpolation import Interpolator
from hullcheck.discovery.models import DiscoveryError, DiscoveryProblem, ProblemKind

logger = logging.getLogger(__name__)

_SECTIONS_WITHOUT_SERVICES = ("networks", "volumes", "secrets", "configs")


class ComposeLoader:
    """Load the services of one project and collect the problems not tied to one service."""

    def __init__(self) -> None:
        self.problems: list[DiscoveryProblem] = []
        self._documents: dict[Path, list[dict[str, Any]]] = {}
        self._extends_files: dict[
            tuple[Path, frozenset[tuple[str, str]]], dict[str, ServiceDefinition] | None
        ] = {}

    def documents(self, path: Path) -> list[dict[str, Any]]:
        """Parse ``path`` once. Raise DiscoveryError when it cannot be read or parsed."""
        if path not in self._documents:
            self._documents[path] = load_documents(path)
        return self._documents[path]

    def load_files(self, files: Sequence[Path], scope: LoadScope) -> dict[str, ServiceDefinition]:
        """Load ``files`` as one project, merging each onto the ones before it."""
        merged: dict[str, ServiceDefinition] = {}
        for path in files:
            for document in self.documents(path):
                services = self._read_services(document, path, scope.variables, scope.working_dir)
                self._check_sections(document, path, scope.variables)
                apply_include(self, document, path, scope, services)
                resolver = ExtendsResolver(lambda target: self._read_extends_file(target, scope))
                for name, definition in resolver.resolve_all(path, services).items():
                    merged[name] = combine(merged.get(name), definition)
        return merged

    def _read_services(
        self,
        document: dict[str, Any],
        path: Path,
        variables: Mapping[str, str],
        base_dir: Path,
    ) -> dict[str, ServiceDefinition]:
        """Interpolate and normalise the services of one document, each on its own."""
        raw_services = document.get("services")
        if raw_services is None:
            return {}
        if not isinstance(raw_services, dict):
            self.problems.append(
                DiscoveryProblem(
                    kind=ProblemKind.INVALID_COMPOSE,
                    message=f"'services' in {path} must be a mapping of service names",
                    file=path,
                )
            )
            return {}

        services: dict[str, ServiceDefinition] = {}
        for key, body in raw_services.items():
            name = str(key)
            if not isinstance(body, dict):
                services[name] = empty_service(name, body, path)
                continue
            problems: list[DiscoveryProblem] = []
            interpolator = Interpolator(variables)
            config = interpolator.interpolate(
                body,
                path=("services", name),
                on_error=record_interpolation_error(problems, path, name),
            )
            problems.extend(missing_variable_warnings(interpolator, path, name))
            config = normalise_service(config, base_dir)
            image_file = path if "image" in config and not is_reset(config["image"]) else None
            services[name] = ServiceDefinition(name, config, path, image_file, problems)
        return services

    def _check_sections(
        self, document: dict[str, Any], path: Path, variables: Mapping[str, str]
    ) -> None:
        """Interpolate the other top-level sections, because Compose fails on their errors.

        ``x-`` sections are checked too: compose-go interpolates the whole file, although
        only the services that merge an ``x-`` section through an alias use it.
        """
        for section in document:
            if section in _SECTIONS_WITHOUT_SERVICES or section.startswith("x-"):
                interpolator = Interpolator(variables)
                interpolator.interpolate(
                    document[section],
                    path=(section,),
                    on_error=record_interpolation_error(self.problems, path, None),
                )
                self.problems.extend(missing_variable_warnings(interpolator, path, None))

    def _read_extends_file(
        self, path: Path, scope: LoadScope
    ) -> dict[str, ServiceDefinition] | None:
        """Return the services of a file named by ``extends.file``, or None if it fails.

        Relative paths inside it start from its own directory, as in Compose.
        """
        # The same file can be read with the variables of different included projects.
        key = (path, frozenset(scope.variables.items()))
        if key not in self._extends_files:
            try:
                merged: dict[str, ServiceDefinition] = {}
                for document in self.documents(path):
                    services = self._read_services(document, path, scope.variables, path.parent)
                    for name, definition in services.items():
                        merged[name] = combine(merged.get(name), definition)
                self._extends_files[key] = merged
            except DiscoveryError as error:
                logger.debug("extends file %s not loaded: %s", path, error)
                self._extends_files[key] = None
        return self._extends_files[key]
