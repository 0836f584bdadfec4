"""Turn loaded service definitions into the ServiceImage rows that later stages use."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from hullcheck.discovery.compose_merge import Unresolved
from hullcheck.discovery.compose_model import ServiceDefinition
from hullcheck.discovery.models import (
    DiscoveryProblem,
    InvalidReferenceError,
    ProblemKind,
    ServiceImage,
)
from hullcheck.discovery.references import parse_reference

ALL_PROFILES = "*"
"""The profile name that enables every profile, as in ``--profile '*'``."""


def build_service_image(
    project: str, definition: ServiceDefinition, enabled_profiles: Sequence[str]
) -> ServiceImage:
    """Describe one service: its image, local build, profiles, labels and problems.

    A service is active when it has no profiles or one of them is enabled. A service
    with ``build`` is a local build named after its ``image`` or ``<project>-<service>``
    (the Compose v2 name). A missing ``env_file`` is a problem that blocks ``up`` while
    the image is still listed.
    """
    config = definition.config
    problems = list(definition.problems)
    raw_profiles = config.get("profiles")
    profiles: tuple[str, ...] = ()
    if isinstance(raw_profiles, list):
        profiles = tuple(p for p in raw_profiles if isinstance(p, str))
    elif raw_profiles is not None:
        problems.append(
            DiscoveryProblem(
                kind=ProblemKind.INVALID_COMPOSE,
                message=f"service {definition.name} in {definition.file}: profiles must be "
                f"a list of names, not {raw_profiles!r}",
                file=definition.file,
                service=definition.name,
            )
        )
    active = (
        not profiles
        or ALL_PROFILES in enabled_profiles
        or any(profile in enabled_profiles for profile in profiles)
    )

    def add(kind: ProblemKind, message: str, file: Path | None) -> None:
        problems.append(
            DiscoveryProblem(
                kind=kind,
                message=message,
                file=file,
                service=definition.name,
                # compose-go applies profiles before its consistency checks, so a service
                # outside the enabled profiles does not make ``up`` fail.
                blocks_deploy=active,
            )
        )

    local_build = config.get("build") is not None
    image_value = config.get("image")
    image = None
    image_text = None
    if isinstance(image_value, str):
        image_text = image_value
        try:
            image = parse_reference(image_value)
        except InvalidReferenceError as error:
            add(
                ProblemKind.INVALID_REFERENCE,
                f"service {definition.name} in {definition.image_file}: {error}",
                definition.image_file,
            )
    elif image_value is None and not local_build and not definition.empty:
        add(
            ProblemKind.INVALID_COMPOSE,
            f"service {definition.name} in {definition.file} has neither an image nor a build",
            definition.file,
        )
    elif image_value is not None and not isinstance(image_value, Unresolved):
        add(
            ProblemKind.INVALID_COMPOSE,
            f"service {definition.name} in {definition.image_file}: the image must be a "
            f"string, not {image_value!r}",
            definition.image_file,
        )

    for env_path in _missing_env_files(config.get("env_file")):
        add(
            ProblemKind.MISSING_FILE,
            f"service {definition.name}: env_file {env_path} not found; its image is still "
            "checked, but docker compose up fails until the file exists (Compose 2.24 and "
            "later also accept required: false on the entry)",
            definition.file,
        )

    local_image_name = None
    if local_build:
        local_image_name = image_text or f"{project}-{definition.name}"
    return ServiceImage(
        project=project,
        service=definition.name,
        image=image,
        image_text=image_text,
        local_build=local_build,
        local_image_name=local_image_name,
        active=active,
        profiles=profiles,
        defined_in=definition.image_file,
        problems=tuple(problems),
        labels=_labels(config.get("labels")),
    )


def _missing_env_files(value: Any) -> list[Path]:
    if not isinstance(value, list):
        return []
    return [
        Path(entry["path"])
        for entry in value
        if isinstance(entry, dict) and entry.get("required") and not Path(entry["path"]).is_file()
    ]


def _labels(value: Any) -> dict[str, str]:
    if not isinstance(value, dict):
        return {}
    return {str(key): text for key, text in value.items() if isinstance(text, str)}
