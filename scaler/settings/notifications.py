"""The settings of notifications: the webhooks notices go to, which events, and when."""

from __future__ import annotations

from pathlib import Path
from typing import Self

from pydantic import BaseModel, Field, PrivateAttr, SecretStr, field_validator, model_validator

from scaler.settings.variables import ENV_PREFIX, read_setting_file
from scaler.vocabulary import NOTIFY_EVENTS, NotifyEvent


class NotificationSettings(BaseModel):
    """Notices to webhooks."""

    _webhook_urls: tuple[str, ...] = PrivateAttr(default=())

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
    def _webhooks_read(self) -> Self:
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


def webhook_url_problem(url: str) -> str | None:
    """What is wrong with a webhook URL, in words that do not repeat it; ``None`` when it is usable."""
    scheme, _, rest = url.partition("://")
    if scheme not in ("http", "https") or not rest:
        return "is not an http:// or https:// URL"
    host = rest.split("/", 1)[0].split("?", 1)[0]
    if not host or any(character.isspace() for character in url):
        return "has no host, or holds a space"
    return None
