"""Every setting of hullcheck, defined once: name, config key, env var, default and help.

A setting's ``name`` is also the config-file key and the parameter name of every command
that takes it, which is how the config file reaches the commands (see ``loader.py``).
Precedence, highest first: command-line flag, ``HULLCHECK_*`` environment variable, config
file, default.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import typer


@dataclass(frozen=True)
class Setting:
    name: str
    """Config-file key and command parameter name."""
    flag: str | None
    """Command-line flag; None for settings read only from the file or the environment."""
    default: Any
    help: str
    secret: bool = False
    """Redacted in every output: webhook URLs, tokens."""
    multiple: bool = False
    """A list: the flag repeats, the env var is split on commas and spaces, the file takes an array."""
    choices: tuple[str, ...] = ()
    """Allowed values, checked in the config file as the flag checks them on the command line."""

    @property
    def env(self) -> str:
        return f"HULLCHECK_{self.name.upper()}"

    def option(self, *short: str, **checks: Any) -> Any:
        """Return the Typer option for this setting, for use in ``Annotated[...]``.

        ``checks`` are extra Typer arguments such as ``min=1``.
        """
        declarations = [self.flag, *short] if self.flag else list(short)
        return typer.Option(
            *declarations, envvar=self.env, help=self.help, show_default=not self.secret, **checks
        )


SETTINGS: tuple[Setting, ...] = (
    # Where things are.
    Setting(
        "stacks",
        None,
        [],
        "Compose files or project directories used when a command gets no PATH.",
        multiple=True,
    ),
    Setting(
        "docker_host",
        "--docker-host",
        None,
        "Docker engine address, e.g. unix:///var/run/docker.sock (default: DOCKER_HOST).",
    ),
    Setting("history_db", "--db", None, "History database file (default: DATA_DIR/history.db)."),
    # Scanning.
    Setting(
        "severity",
        "--severity",
        "CRITICAL,HIGH",
        "Severities listed in the report detail, comma-separated.",
    ),
    Setting(
        "fail_on",
        "--fail-on",
        None,
        "Exit 1 when a finding at or above this severity exists.",
        choices=("CRITICAL", "HIGH", "MEDIUM", "LOW", "UNKNOWN"),
    ),
    Setting("scan_timeout", "--scan-timeout", 1800.0, "Per-image Trivy timeout, in seconds."),
    Setting(
        "trivy",
        "--trivy",
        None,
        "Path to the Trivy binary (default: the one bundled with hullcheck).",
    ),
    Setting(
        "trivy_cache",
        "--cache-dir",
        None,
        "Trivy cache and DB directory (default: CACHE_DIR/trivy).",
    ),
    Setting(
        "db_update",
        "--db-update",
        "auto",
        "auto: download the Trivy DB when due, once per run; skip: offline, use the cached DB.",
        choices=("auto", "skip"),
    ),
    Setting(
        "db_repository",
        "--db-repository",
        [],
        "Trivy DB repository or mirror (repeatable), or a local DB directory or db.tar.gz for offline use.",
        multiple=True,
    ),
    Setting(
        "scanners",
        "--scanners",
        "vuln",
        "Trivy scanners, comma-separated: vuln, secret, misconfig.",
    ),
    # Updating.
    Setting(
        "policy",
        "--policy",
        "availability",
        "availability: update and escalate; strict: hold new CRITICAL or known-exploited; notify-only.",
        choices=("availability", "strict", "notify-only"),
    ),
    Setting("minimum_age", "--min-age", 0.0, "Hold candidate images younger than this many hours."),
    Setting(
        "health_timeout",
        "--health-timeout",
        120.0,
        "Seconds to wait for a recreated container to become healthy.",
    ),
    Setting(
        "stable_seconds",
        "--stable-seconds",
        10.0,
        "Seconds a recreated container without a health check must keep running.",
    ),
    Setting(
        "insecure_registry",
        "--insecure-registry",
        [],
        "Registry host reached over plain HTTP (repeatable; loopback always is).",
        multiple=True,
    ),
    Setting(
        "registry_timeout",
        "--registry-timeout",
        30.0,
        "Seconds to wait for each registry request (manifest HEAD, token, tag list).",
    ),
    Setting(
        "check_tags",
        "--check-tags",
        True,
        "Also list newer tags of each image's version series (reported, never applied).",
    ),
    # Notifications.
    Setting(
        "notify_urls",
        "--notify-url",
        [],
        "Apprise URLs to notify (repeatable), e.g. discord://ID/TOKEN.",
        secret=True,
        multiple=True,
    ),
    Setting(
        "notify_when",
        "--notify-when",
        "always",
        "always, on-change, or new-critical (new CRITICAL or known-exploited findings).",
        choices=("always", "on-change", "new-critical"),
    ),
    Setting(
        "notify_on",
        "--notify-on",
        "both",
        "Update news to report: digest (same tag, new digest), tag (new tags), or both.",
        choices=("digest", "tag", "both"),
    ),
    Setting(
        "report_url",
        "--report-url",
        None,
        "Link to the full report (e.g. the dashboard) put in notifications.",
    ),
    # Schedule.
    Setting(
        "schedule",
        "--schedule",
        "0 4 * * 0",
        "Cron expression for the daemon (minute hour day month weekday).",
    ),
    Setting("timezone", "--timezone", "UTC", "Time zone of the schedule, e.g. Europe/Berlin."),
    Setting(
        "run_at_start",
        "--run-at-start",
        False,
        "Daemon: run once right after starting, then follow the schedule.",
    ),
    # Exploitability feeds and accepted risk.
    # NOTE: no feed URL is set by default, so nothing leaves the machine until the owner
    # chooses a source. docs/risk.md gives the official CISA and FIRST addresses.
    Setting(
        "kev_url",
        "--kev-url",
        None,
        "CISA KEV catalog: URL or local file path (unset: no KEV data).",
    ),
    Setting(
        "epss_url",
        "--epss-url",
        None,
        "FIRST EPSS scores: URL or local file path (unset: no EPSS data).",
    ),
    Setting(
        "risks_file",
        "--risks-file",
        None,
        "Risk register YAML file (default: CONFIG_DIR/risks.yaml).",
    ),
    # Dashboard.
    Setting(
        "dashboard_host",
        "--host",
        "127.0.0.1",
        "Address the dashboard binds; any other than loopback needs a token.",
    ),
    Setting("dashboard_port", "--port", 8080, "Port the dashboard listens on."),
    Setting(
        "dashboard_token",
        "--token",
        None,
        "Token the dashboard requires (Authorization: Bearer TOKEN).",
        secret=True,
    ),
)

BY_NAME = {setting.name: setting for setting in SETTINGS}

# Settings that only the environment can set, because they decide where the config file is.
ENVIRONMENT_ONLY = {
    "HULLCHECK_CONFIG": "Config file path (default: CONFIG_DIR/config.toml).",
    "HULLCHECK_DATA_DIR": "Data directory: history, reports, state (default: $XDG_DATA_HOME/hullcheck).",
}


def setting(name: str) -> Setting:
    return BY_NAME[name]
