"""The set of policies in force: every policy, the effective prices and the files they came from."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from types import MappingProxyType
from typing import Any

from scaler.policy.model import Policy

#: Simplismart's published dedicated rates, $ per GPU-hour (transcribed 2026-09).
BUILTIN_PRICES: Mapping[str, float] = MappingProxyType(
    {
        "nvidia-tesla-t4": 1.20,
        "nvidia-l4": 1.50,
        "nvidia-a10g": 2.00,
        "nvidia-a10": 2.00,
        "nvidia-a100": 3.00,
        "nvidia-h100": 4.00,
        "nvidia-h200": 5.20,
    }
)


@dataclass(frozen=True)
class PolicySource:
    """A file the set was read from (a policy file or a calendar) and the SHA-256 of its bytes."""

    path: Path
    sha256: str


@dataclass(frozen=True)
class PolicySet:
    """Every policy in force, the effective prices and where they came from.

    ``content_hash`` covers the files' paths and bytes, calendar files included: equal
    hashes mean a reload changed nothing.
    """

    policies: tuple[Policy, ...] = ()
    pricing: Mapping[str, float] = field(default_factory=lambda: BUILTIN_PRICES)
    sources: tuple[PolicySource, ...] = ()
    content_hash: str = ""
    #: The calendar files the policies name (each once), read with the policy files.
    calendars: tuple[PolicySource, ...] = ()

    def policy(self, name: str) -> Policy | None:
        """Return the policy called ``name``, or ``None``."""
        return self._by_name.get(name)

    @cached_property
    def _by_name(self) -> dict[str, Policy]:
        return {policy.name: policy for policy in self.policies}

    @cached_property
    def match_cache(self) -> dict[tuple[object, ...], Any]:
        """What :func:`scaler.policy.matching.match_policies` found for each deployment, kept with
        the set (policies do not change once loaded; a reload builds a new set)."""
        return {}

    @property
    def window_count(self) -> int:
        """Number of windows across all policies."""
        return sum(len(policy.windows) for policy in self.policies)

    @property
    def health_rule_count(self) -> int:
        """Number of health rules across all policies."""
        return sum(len(policy.health) for policy in self.policies)

    def summary(self) -> str:
        """Return a one-line count: policies, windows, health rules and files."""
        def plural(count: int, word: str) -> str:
            return f"{count} {word}{'' if count == 1 else 's'}"

        return (
            f"{plural(len(self.policies), 'policy').replace('policys', 'policies')}, "
            f"{plural(self.window_count, 'window')}, {plural(self.health_rule_count, 'health rule')} "
            f"in {plural(len(self.sources), 'file')}"
        )
