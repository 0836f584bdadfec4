"""Recreating one Compose service on the lab engine, with rollback, through docker-compose."""

from __future__ import annotations

from pathlib import Path

import pytest
from compose_stacks import ComposeStack, StackFactory, load_with_architecture

from hullcheck.deployment.compose_cli import run_compose
from hullcheck.deployment.recreate import RecreateResult, RecreateStatus, recreate_service
from hullcheck.deployment.target import ComposeTarget
from hullcheck.lab.images import PublishedImage, publish
from hullcheck.lab.services import Lab

# Enough for the fixture images' health check (1 s interval, 1 retry) on a busy machine.
HEALTH_TIMEOUT = 60
# Containers without a health check count as started after running this long unchanged.
STABLE_SECONDS = 1.5


def _service(image: PublishedImage, *lines: str) -> str:
    """Return a compose file with one service ``app`` on ``image`` and extra lines under it."""
    extra = "".join(f"    {line}\n" for line in lines)
    return f"services:\n  app:\n    image: {image.reference}\n{extra}"


def _recreate(
    lab: Lab, stack: ComposeStack, old: PublishedImage, new_image_id: str, service: str = "app"
) -> RecreateResult:
    return recreate_service(
        lab.client(),
        stack.target(service),
        reference=old.reference,
        old_image_id=old.image_id,
        new_image_id=new_image_id,
        env=lab.env(),
        health_timeout=HEALTH_TIMEOUT,
        stable_seconds=STABLE_SECONDS,
    )


def _state(stack: ComposeStack, service: str = "app") -> dict[str, str]:
    container = stack.container(service)
    state = container.attrs["State"]
    return {
        "id": str(container.id),
        "image": str(container.attrs["Image"]),
        "status": str(state["Status"]),
        "health": str((state.get("Health") or {}).get("Status")),
    }


def _tagged_image_id(lab: Lab, reference: str) -> str:
    return str(lab.client().images.get(reference).id)


def test_recreate_new_digest_same_tag(
    lab: Lab, lab_repository: str, compose_stack: StackFactory
) -> None:
    old = publish(lab, "debian-base", lab_repository, "1")
    stack = compose_stack(_service(old))
    before = _state(stack)
    new = publish(lab, "debian-base", lab_repository, "1", revision="2")

    result = _recreate(lab, stack, old, new.image_id)

    after = _state(stack)
    assert result.status is RecreateStatus.RECREATED, result.reason
    assert result.reason is None
    assert result.containers_replaced
    assert result.image_id == new.image_id
    assert result.container_ids == (after["id"],)
    assert after["image"] == new.image_id
    assert after["id"] != before["id"]
    assert after["health"] == "healthy"


def test_recreate_unhealthy_rolls_back(
    lab: Lab, lab_repository: str, compose_stack: StackFactory
) -> None:
    old = publish(lab, "debian-base", lab_repository, "1")
    stack = compose_stack(_service(old))
    new = publish(lab, "debian-base", lab_repository, "1", healthy=False)

    result = _recreate(lab, stack, old, new.image_id)

    after = _state(stack)
    assert result.status is RecreateStatus.ROLLED_BACK
    assert result.reason is not None
    assert result.reason.startswith("health check failed: unhealthy after")
    assert result.reason.endswith(f"rolled back to {old.image_id}")
    assert result.image_id == old.image_id
    assert after["image"] == old.image_id
    assert after["status"] == "running"
    assert after["health"] == "healthy"
    # The tag points at the old image again, and the new one is kept for the next run.
    assert _tagged_image_id(lab, old.reference) == old.image_id
    assert lab.client().images.get(new.image_id).id == new.image_id


def test_recreate_start_failure_rolls_back(
    lab: Lab, lab_repository: str, compose_stack: StackFactory
) -> None:
    old = publish(lab, "debian-base", lab_repository, "1")
    stack = compose_stack(_service(old))
    new = publish(
        lab, "debian-base", lab_repository, "1", extra_changes=['CMD ["/usr/bin/dumb-init"]']
    )

    result = _recreate(lab, stack, old, new.image_id)

    after = _state(stack)
    assert result.status is RecreateStatus.ROLLED_BACK
    assert result.reason is not None
    assert result.reason.startswith("compose up")
    assert "dumb-init" in result.reason
    assert after["image"] == old.image_id
    assert after["health"] == "healthy"
    assert len(stack.containers("app")) == 1


def test_recreate_exit_without_healthcheck_rolls_back(
    lab: Lab, lab_repository: str, compose_stack: StackFactory
) -> None:
    old = publish(lab, "debian-base", lab_repository, "1", healthcheck=False)
    stack = compose_stack(_service(old))
    new = publish(
        lab,
        "debian-base",
        lab_repository,
        "1",
        healthcheck=False,
        extra_changes=['CMD ["sh", "-c", "sleep 0.5; exit 3"]'],
    )

    result = _recreate(lab, stack, old, new.image_id)

    after = _state(stack)
    assert result.status is RecreateStatus.ROLLED_BACK
    assert result.reason is not None
    assert "exit code 3" in result.reason
    assert after["image"] == old.image_id
    assert after["status"] == "running"


def test_recreate_missing_image_stops_nothing(
    lab: Lab, lab_repository: str, compose_stack: StackFactory
) -> None:
    old = publish(lab, "debian-base", lab_repository, "1")
    stack = compose_stack(_service(old))
    before = _state(stack)
    new = publish(lab, "debian-base", lab_repository, "1", revision="2")
    lab.client().images.remove(new.image_id, force=True)

    result = _recreate(lab, stack, old, new.image_id)

    after = _state(stack)
    assert result.status is RecreateStatus.FAILED
    assert result.reason is not None
    assert new.image_id in result.reason
    assert "not in the Docker engine's image store" in result.reason
    assert "nothing was stopped" in result.reason
    assert not result.containers_replaced
    assert after["id"] == before["id"]
    assert after["image"] == old.image_id
    assert after["status"] == "running"
    # A later 'compose up' must not pick up the rejected image through the tag.
    assert _tagged_image_id(lab, old.reference) == old.image_id


def test_recreate_other_platform_stops_nothing(
    lab: Lab, lab_repository: str, compose_stack: StackFactory
) -> None:
    old = publish(lab, "debian-base", lab_repository, "1")
    stack = compose_stack(_service(old))
    before = _state(stack)
    foreign = load_with_architecture(lab.client(), old.image_id, "s390x", old.reference)

    result = _recreate(lab, stack, old, foreign)

    after = _state(stack)
    assert result.status is RecreateStatus.FAILED
    assert result.reason is not None
    assert "linux/s390x" in result.reason
    assert not result.containers_replaced
    assert after["id"] == before["id"]
    assert after["image"] == old.image_id
    assert after["status"] == "running"
    # A later 'compose up' must not pick up the rejected image through the tag.
    assert _tagged_image_id(lab, old.reference) == old.image_id


def test_recreate_env_from_new_image(
    lab: Lab, lab_repository: str, compose_stack: StackFactory
) -> None:
    # /bin stays in PATH because the fixture images run busybox from there.
    old = publish(
        lab,
        "python-app",
        lab_repository,
        "1",
        healthcheck=False,
        extra_changes=["ENV PATH=/app/venv/bin:/usr/bin:/bin APP_VERSION=1.0"],
    )
    stack = compose_stack(_service(old, "environment:", "  TZ: Etc/UTC"))
    assert "PATH=/app/venv/bin:/usr/bin:/bin" in stack.container("app").attrs["Config"]["Env"]
    new = publish(
        lab,
        "python-app",
        lab_repository,
        "1",
        healthcheck=False,
        revision="2",
        extra_changes=["ENV PATH=/app/.venv/bin:/usr/bin:/bin APP_VERSION=2.0"],
    )

    result = _recreate(lab, stack, old, new.image_id)

    environment = stack.container("app").attrs["Config"]["Env"]
    assert result.status is RecreateStatus.RECREATED, result.reason
    assert sorted(environment) == [
        "APP_VERSION=2.0",
        "PATH=/app/.venv/bin:/usr/bin:/bin",
        "TZ=Etc/UTC",
    ]


def test_recreate_dependant_follows(
    lab: Lab, lab_repository: str, compose_stack: StackFactory
) -> None:
    old = publish(lab, "debian-base", lab_repository, "1")
    sidecar = publish(lab, "alpine-base", f"{lab_repository}-sidecar", "1", healthcheck=False)
    stack = compose_stack(
        _service(old)
        + f"  sidecar:\n    image: {sidecar.reference}\n    network_mode: service:app\n"
    )
    sidecar_before = _state(stack, "sidecar")
    new = publish(lab, "debian-base", lab_repository, "1", revision="2")

    result = _recreate(lab, stack, old, new.image_id)

    app_after = _state(stack)
    sidecar_container = stack.container("sidecar")
    assert result.status is RecreateStatus.RECREATED, result.reason
    assert result.dependants == ("sidecar",)
    assert app_after["image"] == new.image_id
    assert sidecar_container.id != sidecar_before["id"]
    assert sidecar_container.status == "running"
    assert sidecar_container.attrs["HostConfig"]["NetworkMode"] == f"container:{app_after['id']}"


def test_recreate_profiled_service(
    lab: Lab, lab_repository: str, compose_stack: StackFactory
) -> None:
    old = publish(lab, "debian-base", lab_repository, "1")
    stack = compose_stack(
        _service(old) + f"  debug:\n    image: {old.reference}\n    profiles: [debug]\n",
        profiles=("debug",),
    )
    before = _state(stack, "debug")
    new = publish(lab, "debian-base", lab_repository, "1", revision="2")

    result = _recreate(lab, stack, old, new.image_id, service="debug")

    after = _state(stack, "debug")
    assert stack.target("debug").profiles == ()
    assert result.status is RecreateStatus.RECREATED, result.reason
    assert after["id"] != before["id"]
    assert after["image"] == new.image_id
    assert after["health"] == "healthy"
    # Only the named service is recreated.
    assert _state(stack, "app")["image"] == old.image_id


def test_recreate_scaled_service_keeps_count(
    lab: Lab, lab_repository: str, compose_stack: StackFactory
) -> None:
    old = publish(lab, "debian-base", lab_repository, "1")
    stack = compose_stack(_service(old))
    run_compose(
        [stack.compose_file], ["up", "-d", "--scale", "app=2"], project=stack.project, env=lab.env()
    )
    assert len(stack.target("app").container_ids) == 2
    new = publish(lab, "debian-base", lab_repository, "1", revision="2")

    result = _recreate(lab, stack, old, new.image_id)

    containers = stack.containers("app")
    assert result.status is RecreateStatus.RECREATED, result.reason
    assert len(result.container_ids) == 2
    assert len(containers) == 2
    assert {c.attrs["Image"] for c in containers} == {new.image_id}
    assert {c.status for c in containers} == {"running"}


def test_recreate_rollback_failure_reports_both(
    lab: Lab, lab_repository: str, compose_stack: StackFactory, tmp_path: Path
) -> None:
    old = publish(lab, "debian-base", lab_repository, "1")
    probe = tmp_path / "probe"
    probe.mkdir()
    (probe / "ready").touch()
    stack_yaml = _service(
        old,
        f"volumes: ['{probe}:/probe']",
        "healthcheck:",
        "  test: ['CMD', 'test', '-f', '/probe/ready']",
        "  interval: 1s",
        "  retries: 1",
    )
    stack = compose_stack(stack_yaml)
    assert _state(stack)["health"] in ("starting", "healthy")
    # Removing the probe file fails the health check of every container from now on, so
    # the old image fails after the rollback as well.
    (probe / "ready").unlink()
    new = publish(lab, "debian-base", lab_repository, "1", revision="2")

    result = _recreate(lab, stack, old, new.image_id)

    assert result.status is RecreateStatus.FAILED
    assert result.containers_replaced
    assert result.reason is not None
    first, _, rollback = result.reason.partition(f"; rollback to {old.image_id} failed: ")
    assert first.startswith("health check failed: unhealthy after")
    assert rollback.startswith("health check failed: unhealthy after")


def test_recreate_digest_reference_rejected(
    lab: Lab, lab_repository: str, compose_stack: StackFactory
) -> None:
    old = publish(lab, "debian-base", lab_repository, "1")
    stack = compose_stack(_service(old))
    before = _state(stack)

    result = recreate_service(
        lab.client(),
        stack.target("app"),
        reference=old.pinned_reference,
        old_image_id=old.image_id,
        new_image_id=old.image_id,
        env=lab.env(),
    )

    assert result.status is RecreateStatus.FAILED
    assert result.reason is not None
    assert "pinned by digest" in result.reason
    assert _state(stack)["id"] == before["id"]


def test_recreate_stable_longer_than_timeout_rejected(lab: Lab) -> None:
    target = ComposeTarget(
        project="shop",
        service="web",
        files=(Path("/srv/shop/compose.yaml"),),
        working_dir=Path("/srv/shop"),
    )

    with pytest.raises(ValueError, match="stable_seconds"):
        recreate_service(
            lab.client(),
            target,
            reference="127.0.0.1:5000/shop/web:1",
            old_image_id="sha256:" + "1" * 64,
            new_image_id="sha256:" + "2" * 64,
            env=lab.env(),
            health_timeout=5,
            stable_seconds=10,
        )
