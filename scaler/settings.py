"""Process configuration: every ``SCALER_*`` environment variable, read once.

The entry point builds one :class:`Settings` with :func:`load_settings` and passes
it down keyword-only; nothing else reads the environment. A missing or malformed
variable becomes a :class:`SettingsError` whose text names the variable.
"""

from __future__ import annotations

import difflib
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal
from uuid import UUID

from pydantic import Field, PrivateAttr, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from scaler.redaction import MARKER, redact_url_passwords
from scaler.vocabulary import NOTIFY_EVENTS, NotifyEvent

ENV_PREFIX = "SCALER_"
DEFAULT_API_URL = "https://api.app.simplismart.ai"

#: Leader election defaults (seconds), shared by the settings and the elector; see the fields.
DEFAULT_LEADER_HEARTBEAT_SECONDS = 1.0
DEFAULT_LEADER_LEASE_SECONDS = 4.0
DEFAULT_LEADER_CAMPAIGN_SECONDS = 2.0
DEFAULT_LEADER_TAKEOVER_DELAY_SECONDS = 6.0


class SettingsError(Exception):
    """A setting is missing or malformed; the message names the variable."""


def _default_log_format() -> str:
    return "console" if sys.stderr.isatty() else "json"


class Settings(BaseSettings):
    """Everything the scaler can be told through its environment."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        extra="ignore",
        frozen=True,
        validate_default=True,
    )
    _webhook_urls: tuple[str, ...] = PrivateAttr(default=())

    # --- The platform -----------------------------------------------------
    api_url: str = Field(
        default=DEFAULT_API_URL,
        description="Base URL of the Simplismart API. Default: the public platform.",
    )
    api_token: SecretStr | None = Field(
        default=None,
        description="Bearer token (JWT). Prefer SCALER_API_TOKEN_FILE in production.",
    )
    api_token_file: Path | None = Field(
        default=None,
        description=(
            "File holding the bearer token, e.g. a mounted secret. Re-read when it "
            "changes, so a rotated token is picked up without a restart. Wins over "
            "SCALER_API_TOKEN when both are set."
        ),
    )
    org_id: UUID | None = Field(
        default=None,
        description=(
            "Organization UUID, sent as `org` by start/stop calls. Read once at start: a changed "
            "value takes effect at a restart. Refused by the platform, it pauses every start and stop."
        ),
    )
    http_timeout_seconds: float = Field(
        default=10.0,
        gt=0,
        description=(
            "Seconds allowed to connect and, separately, to read one response. "
            "10 s is far above the platform's normal answer time yet short enough "
            "that a hung request cannot delay a boundary by a whole cycle."
        ),
    )
    max_concurrency: int = Field(
        default=10,
        ge=1,
        le=1000,
        description=(
            "Requests in flight at once. 10 keeps a 1,000-deployment health poll "
            "well inside the default health interval without bursting the platform."
        ),
    )
    max_requests_per_second: float = Field(
        default=20.0,
        gt=0,
        description=(
            "Ceiling on the request rate (all endpoints together). The platform "
            "publishes no limit; 20/s is polite and still polls 1,000 deployments "
            "in under a minute."
        ),
    )
    api_retry_attempts: int = Field(
        default=4,
        ge=1,
        le=20,
        description="Attempts per call for transient failures (5xx, 429, timeouts), first one included.",
    )
    api_retry_timeout_seconds: float = Field(
        default=30.0,
        gt=0,
        description=(
            "Upper bound, in seconds, on the time one call may spend retrying. 30 s "
            "keeps a struggling platform from stalling a reconcile cycle."
        ),
    )
    ca_bundle: Path | None = Field(
        default=None,
        description="PEM file of extra certificate authorities, for a proxy or a private endpoint.",
    )

    # --- Logging ----------------------------------------------------------
    log_format: Literal["json", "console"] = Field(
        default_factory=_default_log_format,
        description="`json` (one object per line) or `console`. Default: console on a terminal, json otherwise.",
    )
    log_level: Literal["debug", "info", "warning", "error", "critical"] = Field(
        default="info",
        description="Lowest level that is logged.",
    )

    # --- Metrics ----------------------------------------------------------
    metrics_deployment_detail: Literal["full", "compact", "off"] = Field(
        default="compact",
        description=(
            "Series per deployment on /metrics: `full` (every one, status and health one-hot, "
            "up to 26), `compact` (at most 7: the current status and health, desired running, "
            "next transition, savings) or `off` (none). The per-policy series exist in every "
            "mode. `compact` keeps 10,000 deployments' scrape under 8 MB."
        ),
    )

    # --- The daemon -------------------------------------------------------
    policy_path: Path = Field(
        default=Path("./policies"),
        description="Policy file, or directory whose .yaml/.yml files are all read in name order.",
    )
    allow_empty_policies: bool = Field(
        default=False,
        description=(
            "Run with a policy set that holds no policy (no policy file, or a pricing block alone). "
            "Off by default: an empty set at start, or a half-written ConfigMap or checkout on reload, "
            "would otherwise switch every schedule off in silence; it is refused instead (at start "
            "the daemon exits 2, on reload the previous set stays in force)."
        ),
    )
    state_url: str = Field(
        default="sqlite:///./scaler-state.db",
        description="Where the daemon keeps its memory: sqlite:///PATH or postgresql://...",
    )
    state_url_file: Path | None = Field(
        default=None,
        description=(
            "File holding SCALER_STATE_URL, e.g. a mounted secret, so that a database password is "
            "kept out of the environment. Read once at start; surrounding whitespace is dropped. "
            "Exclusive with SCALER_STATE_URL."
        ),
    )
    dry_run: bool = Field(
        default=False,
        description="Decide, log and count every action, but send no mutating call.",
    )
    allow_delete: bool = Field(
        default=False,
        description="Let `expire` rules delete deployments. Off by default: deletion cannot be undone.",
    )
    reconcile_interval_seconds: float = Field(
        default=60.0,
        ge=1,
        description=(
            "Seconds between inventory + reconcile cycles. Boundaries get their own "
            "wake-up, so this only bounds how fast new deployments and drift are seen."
        ),
    )
    health_interval_seconds: float = Field(
        default=30.0,
        ge=1,
        description=(
            "Seconds between health polls of running deployments whose policy has health "
            "rules. Health rules hold for minutes, so 30 s measures them to within a "
            "twentieth of a 10-minute `for`."
        ),
    )
    health_idle_interval_seconds: float = Field(
        default=300.0,
        ge=0,
        description=(
            "Seconds between health polls of running deployments that no health rule "
            "watches (0: never). Their health only feeds /status, metrics and alerts "
            "that wait 15 minutes or more, so 5 minutes is timely at a tenth of the requests."
        ),
    )
    new_deployment_grace_seconds: float = Field(
        default=900.0,
        ge=0,
        le=7 * 24 * 3600,
        description=(
            "Seconds a deployment that appears after the scaler's first inventory is left alone "
            "before its policy applies (0: none). 15 minutes, as the best-known downscalers use, "
            "lets a person who creates a deployment outside its policy's hours try it before it is "
            "stopped. A policy's `grace_period` overrides it."
        ),
    )
    max_actions_per_cycle: int = Field(
        default=20,
        ge=1,
        description=(
            "Mutating calls at most per cycle; the rest wait for the next cycle, most "
            "urgent first. Bounds the damage a wrong policy can do in one minute."
        ),
    )
    http_host: str = Field(
        default="127.0.0.1",
        description="Address of /metrics, /healthz, /readyz and /status. The container sets 0.0.0.0.",
    )
    http_port: int = Field(
        default=9464,
        ge=0,
        le=65535,
        description="Port of the daemon's HTTP server (9464: the usual exporter port range).",
    )

    # --- The control API (exceptions: suspensions and overrides) -------------
    api_keys_file: Path | None = Field(
        default=None,
        description=(
            "YAML or JSON file of the control API's keys: entries of name, role (viewer or "
            "operator) and sha256 (the hex SHA-256 of the key; the file holds no key). Re-read "
            "when it changes. Unset: writes are refused and reads stay open."
        ),
    )
    control_key_file: Path | None = Field(
        default=None,
        description=(
            "File holding the key the commands (scaler suspend, override, resume, exceptions) "
            "send to the daemon's control API. Wins over SCALER_CONTROL_KEY."
        ),
    )
    control_key: SecretStr | None = Field(
        default=None,
        description="The key the commands send to the daemon's control API. Prefer SCALER_CONTROL_KEY_FILE.",
    )

    # --- Notifications (webhooks) -------------------------------------------
    notify_webhook_urls: SecretStr | None = Field(
        default=None,
        description=(
            "Webhook URLs that receive a JSON POST for every notice, comma-separated (Slack- and "
            "Mattermost-style incoming webhooks read it as it is). They often carry a token: they are "
            "never logged or shown whole. Prefer SCALER_NOTIFY_WEBHOOK_URLS_FILE. Unset: no notices."
        ),
    )
    notify_webhook_urls_file: Path | None = Field(
        default=None,
        description=(
            "File of webhook URLs, one a line (blank lines and lines starting with # are skipped), e.g. "
            "a mounted secret. Read once at start. Exclusive with SCALER_NOTIFY_WEBHOOK_URLS."
        ),
    )
    notify_ahead_seconds: float = Field(
        default=900.0,
        gt=0,
        description=(
            "Seconds before a stop or a scale-down that the transition_upcoming notice is sent. "
            "900 (15 min) leaves people time to keep a deployment up before it goes."
        ),
    )
    notify_events: str = Field(
        default="all",
        description=(
            "The events notified, comma-separated, or all: " + ", ".join(NOTIFY_EVENTS) + "."
        ),
    )
    console_url: str = Field(
        default="",
        description=(
            "The address people open the daemon's console at (e.g. https://scaler.example.com), "
            "used for the link of each notice (<url>/deployments/<id>). Empty: notices carry no link."
        ),
    )

    # --- High availability (several replicas on one PostgreSQL) -------------
    leader_heartbeat_seconds: float = Field(
        default=DEFAULT_LEADER_HEARTBEAT_SECONDS,
        gt=0,
        description=(
            "Seconds between the leader's checks that it still holds the leader lock. "
            "Each success renews its lease. 1 s costs one tiny query a second and leaves "
            "the lease room for three missed checks."
        ),
    )
    leader_lease_seconds: float = Field(
        default=DEFAULT_LEADER_LEASE_SECONDS,
        gt=0,
        description=(
            "Seconds the leader may act after its last confirmed check; a check that "
            "has not answered after lease minus heartbeat seconds makes it step down. "
            "4 s rides out a slow query or a brief network hiccup, and bounds how long "
            "a leader cut off from the database may still act. Must exceed "
            "SCALER_LEADER_HEARTBEAT_SECONDS."
        ),
    )
    leader_campaign_seconds: float = Field(
        default=DEFAULT_LEADER_CAMPAIGN_SECONDS,
        gt=0,
        description=(
            "Seconds between a standby's attempts to take the leader lock. 2 s is one "
            "cheap query per standby and adds at most 2 s to a failover."
        ),
    )
    leader_takeover_delay_seconds: float = Field(
        default=DEFAULT_LEADER_TAKEOVER_DELAY_SECONDS,
        gt=0,
        description=(
            "Seconds a new leader waits after taking the lock before it acts, so that a "
            "previous leader cut off without noticing has certainly stopped (its lease "
            "ran out). Must exceed heartbeat + lease; 6 s keeps a failover (campaign + "
            "takeover delay: 8 s) well under 15 s."
        ),
    )

    @field_validator("api_url")
    @classmethod
    def _api_url_is_http(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value.rstrip("/")

    @model_validator(mode="before")
    @classmethod
    def _state_url_from_its_file(cls, data: Any) -> Any:
        """Read SCALER_STATE_URL_FILE into ``state_url``; both set is an error."""
        if not isinstance(data, dict) or data.get("state_url_file") is None:
            return data
        if data.get("state_url") is not None:
            raise ValueError(f"{ENV_PREFIX}STATE_URL and {ENV_PREFIX}STATE_URL_FILE are both set; set only one")
        path = Path(data["state_url_file"])
        return {**data, "state_url": read_setting_file(path, f"{ENV_PREFIX}STATE_URL_FILE")}

    @field_validator("notify_events")
    @classmethod
    def _notify_events_are_known(cls, value: str) -> str:
        names = [part.strip() for part in value.split(",") if part.strip()]
        if names == ["all"]:
            return "all"
        if not names:
            raise ValueError("name at least one event, or all")
        unknown = [name for name in names if name not in NOTIFY_EVENTS]
        if unknown:
            raise ValueError(f"unknown event {', '.join(unknown)}; the events are all, {', '.join(NOTIFY_EVENTS)}")
        return ",".join(dict.fromkeys(names))

    @field_validator("console_url")
    @classmethod
    def _console_url_is_http(cls, value: str) -> str:
        if not value:
            return ""
        if not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value.rstrip("/")

    @model_validator(mode="after")
    def _webhooks_read(self) -> Settings:
        """Read the webhook URLs (from SCALER_NOTIFY_WEBHOOK_URLS or its file) and check each one; an
        error names the variable and the entry's position, never the URL (it may hold a token)."""
        if self.notify_webhook_urls is not None and self.notify_webhook_urls_file is not None:
            raise ValueError(
                f"{ENV_PREFIX}NOTIFY_WEBHOOK_URLS and {ENV_PREFIX}NOTIFY_WEBHOOK_URLS_FILE are both set; set only one"
            )
        if self.notify_webhook_urls_file is not None:
            variable = f"{ENV_PREFIX}NOTIFY_WEBHOOK_URLS_FILE"
            text = read_setting_file(self.notify_webhook_urls_file, variable)
            entries = [
                (f"line {number}", line.strip())
                for number, line in enumerate(text.splitlines(), start=1)
                if line.strip() and not line.strip().startswith("#")
            ]
        elif self.notify_webhook_urls is not None:
            variable = f"{ENV_PREFIX}NOTIFY_WEBHOOK_URLS"
            parts = self.notify_webhook_urls.get_secret_value().split(",")
            entries = [(f"entry {number}", part.strip()) for number, part in enumerate(parts, start=1) if part.strip()]
        else:
            return self
        for where, url in entries:
            problem = webhook_url_problem(url)
            if problem is not None:
                raise ValueError(f"{variable}: {where} {problem}")
        if not entries:
            raise ValueError(f"{variable}: no URL in it")
        self._webhook_urls = tuple(dict.fromkeys(url for _, url in entries))
        return self

    @property
    def webhook_urls(self) -> tuple[str, ...]:
        """The webhook URLs notices are posted to (secrets: never log or show them whole)."""
        return self._webhook_urls

    @property
    def notified_events(self) -> frozenset[NotifyEvent]:
        """The events SCALER_NOTIFY_EVENTS selects."""
        if self.notify_events == "all":
            return frozenset(NOTIFY_EVENTS)
        return frozenset(event for event in NOTIFY_EVENTS if event in self.notify_events.split(","))

    @model_validator(mode="after")
    def _leader_timing_is_safe(self) -> Settings:
        check_leader_timing(
            heartbeat_seconds=self.leader_heartbeat_seconds,
            lease_seconds=self.leader_lease_seconds,
            takeover_delay_seconds=self.leader_takeover_delay_seconds,
        )
        return self

    def __repr_args__(self) -> Any:
        """What ``repr`` and ``str`` show: every field, the database password replaced (the token is a SecretStr)."""
        for name, value in super().__repr_args__():
            yield name, redact_url_passwords(value) if name == "state_url" and isinstance(value, str) else value

    def public_view(self) -> dict[str, Any]:
        """Return every setting as plain data, secrets replaced by a marker."""
        view = self.model_dump(mode="json")
        view["api_token"] = MARKER if self.api_token is not None else None
        view["notify_webhook_urls"] = MARKER if self.notify_webhook_urls is not None else None
        view["state_url"] = redact_url_passwords(self.state_url)
        return view


def read_setting_file(path: Path, variable: str) -> str:
    """Return the content of the file a ``*_FILE`` setting names, stripped of surrounding whitespace.

    Raises ``ValueError`` starting with ``variable`` and the path when the file cannot be
    read, is not UTF-8 text or holds only whitespace.
    """
    try:
        text = path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise ValueError(f"{variable}: {path} cannot be read ({exc.strerror or type(exc).__name__})") from None
    except UnicodeDecodeError:
        raise ValueError(f"{variable}: {path} is not UTF-8 text") from None
    if not text:
        raise ValueError(f"{variable}: {path} is empty")
    return text


def webhook_url_problem(url: str) -> str | None:
    """What is wrong with a webhook URL, in words that do not repeat it; ``None`` when it is usable."""
    scheme, _, rest = url.partition("://")
    if scheme not in ("http", "https") or not rest:
        return "is not an http:// or https:// URL"
    host = rest.split("/", 1)[0].split("?", 1)[0]
    if not host or any(character.isspace() for character in url):
        return "has no host, or holds a space"
    return None


def check_leader_timing(*, heartbeat_seconds: float, lease_seconds: float, takeover_delay_seconds: float) -> None:
    """Check that a leader election timing is safe: the lease outlasts the heartbeat (a leader
    renews it before it runs out), and the takeover delay outlasts heartbeat + lease (a leader
    cut off without noticing has stopped acting before a new one starts).

    Raises ``ValueError`` with one line per problem, each starting with the variable to change.
    """
    problems = []
    if not lease_seconds > heartbeat_seconds:
        problems.append(
            f"{ENV_PREFIX}LEADER_LEASE_SECONDS ({lease_seconds:g}) must exceed "
            f"{ENV_PREFIX}LEADER_HEARTBEAT_SECONDS ({heartbeat_seconds:g}): the leader renews its "
            "lease once a heartbeat, so a shorter lease would run out between two heartbeats"
        )
    if not takeover_delay_seconds > heartbeat_seconds + lease_seconds:
        problems.append(
            f"{ENV_PREFIX}LEADER_TAKEOVER_DELAY_SECONDS ({takeover_delay_seconds:g}) must exceed "
            f"{ENV_PREFIX}LEADER_HEARTBEAT_SECONDS + {ENV_PREFIX}LEADER_LEASE_SECONDS "
            f"({heartbeat_seconds + lease_seconds:g}): a new leader must wait until a previous one, "
            "cut off without noticing, has stopped acting"
        )
    if problems:
        raise ValueError("\n".join(problems))


def load_settings(**overrides: Any) -> Settings:
    """Build the settings from the environment (and explicit overrides).

    Raises :class:`SettingsError` with one line per bad variable, each naming it: first
    every ``SCALER_*`` variable that is no setting (a misspelt ``SCALER_DRY_RUN`` must
    not turn a dry run into a real one), then every malformed value.
    """
    problems = unknown_variables(os.environ)
    try:
        settings = Settings(**overrides)
    except ValidationError as exc:
        problems.append(describe_validation_error(exc))
    if problems:
        raise SettingsError("\n".join(problems))
    return settings


def setting_variables() -> list[str]:
    """Return the name of every setting's environment variable (``SCALER_DRY_RUN``...)."""
    return [f"{ENV_PREFIX}{name.upper()}" for name in Settings.model_fields]


def unknown_variables(environ: Mapping[str, str]) -> list[str]:
    """Return one line for each variable of ``environ`` that starts with ``SCALER_`` but is no
    setting, naming the closest setting when one is close. Names are compared without regard
    to case, as the settings are read."""
    known = setting_variables()
    lines = []
    for name in sorted(environ):
        upper = name.upper()
        if not upper.startswith(ENV_PREFIX) or upper in known:
            continue
        suffixes = [variable.removeprefix(ENV_PREFIX) for variable in known]
        close = difflib.get_close_matches(upper.removeprefix(ENV_PREFIX), suffixes, n=1, cutoff=0.6)
        hint = f"did you mean {ENV_PREFIX}{close[0]}?" if close else "no setting has a similar name"
        lines.append(f"{name} is not a setting; {hint}")
    return lines


def describe_validation_error(exc: ValidationError) -> str:
    """Render a settings validation error as lines of ``SCALER_<NAME>: problem``."""
    lines = []
    for error in exc.errors(include_url=False, include_input=False):
        if not error["loc"]:  # a check across fields: its message names the variables itself
            lines.append(error["msg"].removeprefix("Value error, "))
            continue
        field = str(error["loc"][0])
        lines.append(f"{ENV_PREFIX}{field.upper()}: {error['msg']}")
    return "\n".join(lines)
