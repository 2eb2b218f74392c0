"""Seed documents: reading, validating and generating the organization a simulator starts from.

A seed is YAML or JSON::

    org_id: 54360212-2263-44c6-afaf-1333544854f7   # optional
    token: sim-token                                # optional
    wallet_blocked: false                           # optional
    quotas: {nvidia-h100: 32}                       # optional: GPUs per accelerator type
    deployments:
      - deployment_name: whisper-v3                 # the list response's fields ...
        accelerator_type: [nvidia-tesla-t4]
        status: DEPLOYED
        min_replicas: 1                             # ... plus the simulator's own
        max_replicas: 2

:func:`load_seed` reads a file, :func:`parse_seed` validates already parsed data (the
control API uses it too), and :func:`generate_seed` makes large organizations for
benchmarks. Every problem raises :class:`SeedError` naming the source and the field.
"""

from __future__ import annotations

import json
import random
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from uuid import UUID, uuid5

import yaml

from scaler.sim.constants import DELETED, DELETING, DEPLOYED, DEPLOYING, FAILED, SCALED_DOWN, STATUSES
from scaler.sim.fields import Reader, SeedError, is_int, join
from scaler.sim.model import DERIVED, HealthAnswer, SeedDeployment, SeedDocument, TimelineEntry

#: The default seed shipped with the package: the organization of the examples and the demo.
DEFAULT_SEED_PATH = Path(__file__).with_name("default_seed.yaml")

#: Namespace of the ids derived from names when a seed leaves them out (stable across runs).
SEED_NAMESPACE = UUID("6c1b1f1e-3d52-4c84-9a57-5f4d2d0f5a10")

LIST_FIELDS = (
    "deployment_id",
    "deployment_name",
    "model_repo_id",
    "model_repo_name",
    "model_type",
    "accelerator_type",
    "accelerator_count",
    "status",
)
SIMULATOR_FIELDS = (
    "min_replicas",
    "max_replicas",
    "running",
    "startup_seconds",
    "delete_seconds",
    "health",
    "pods",
    "messages",
    "health_timeline",
    "refuse_min_zero",
    "deletion_failures",
    "extra",
)
DEPLOYMENT_FIELDS = LIST_FIELDS + SIMULATOR_FIELDS
DOCUMENT_FIELDS = ("org_id", "token", "wallet_blocked", "quotas", "deployments")
TIMELINE_FIELDS = ("after_seconds", "data", "pods", "messages")


def load_seed(path: str | Path) -> SeedDocument:
    """Read and validate the seed file at ``path`` (YAML, or JSON when it ends in ``.json``).

    Returns the :class:`SeedDocument`; raises :class:`SeedError` naming the file and,
    for a content problem, the field (``deployments[3].max_replicas: ...``).
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SeedError(f"{path}: cannot read the seed file: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise SeedError(f"{path}: the seed file is not UTF-8 text") from None
    if path.suffix.lower() == ".json":
        try:
            raw = json.loads(text)
        except json.JSONDecodeError as exc:
            raise SeedError(f"{path}: line {exc.lineno}: not valid JSON: {exc.msg}") from None
    else:
        try:
            raw = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f"line {mark.line + 1}: " if mark is not None else ""
            problem = getattr(exc, "problem", None) or str(exc)
            raise SeedError(f"{path}: {where}not valid YAML: {problem}") from None
    return parse_seed(raw, source=str(path))


def parse_seed(raw: Any, *, source: str = "<seed>") -> SeedDocument:
    """Validate a parsed seed document (a mapping) and return it as a :class:`SeedDocument`.

    Raises :class:`SeedError` whose text starts with ``source`` and names the field.
    """
    reader = Reader(source)
    if not isinstance(raw, Mapping):
        raise reader.error("", "the seed must be a mapping with a `deployments` list")
    reader.no_unknown_fields(raw, "", DOCUMENT_FIELDS)
    if "deployments" not in raw:
        raise reader.error("deployments", "is required (a list, possibly empty)")
    items = raw["deployments"]
    if not isinstance(items, list):
        raise reader.error("deployments", "must be a list")
    deployments = tuple(
        parse_deployment(item, source=source, where=f"deployments[{i}]") for i, item in enumerate(items)
    )
    seen: dict[str, int] = {}
    for index, deployment in enumerate(deployments):
        if deployment.deployment_id in seen:
            raise reader.error(
                f"deployments[{index}].deployment_id",
                f"{deployment.deployment_id} is already used by deployments[{seen[deployment.deployment_id]}]",
            )
        seen[deployment.deployment_id] = index
    org_id = reader.uuid(raw, "", "org_id") if raw.get("org_id") is not None else None
    token = None
    if raw.get("token") is not None:
        token = raw["token"]
        if not isinstance(token, str) or not token.strip():
            raise reader.error("token", "must be a non-empty string")
    return SeedDocument(
        deployments=deployments,
        org_id=org_id,
        token=token,
        quotas=parse_quotas(raw.get("quotas") or {}, source=source, where="quotas"),
        wallet_blocked=reader.boolean(raw, "", "wallet_blocked", default=False),
        source=source,
    )


def parse_quotas(raw: Any, *, source: str = "<seed>", where: str = "quotas") -> dict[str, int | None]:
    """Validate a ``{accelerator_type: gpus}`` mapping (``null`` removes a quota); return it as a dict.

    Raises :class:`SeedError` naming the accelerator type whose value is wrong.
    """
    reader = Reader(source)
    if not isinstance(raw, Mapping):
        raise reader.error(where, "must be a mapping of accelerator type to a number of GPUs")
    quotas: dict[str, int | None] = {}
    for accelerator, gpus in raw.items():
        if not isinstance(accelerator, str) or not accelerator:
            raise reader.error(where, f"{accelerator!r} is not an accelerator type name")
        if gpus is not None and (not is_int(gpus) or gpus < 0):
            raise reader.error(f"{where}.{accelerator}", "must be a whole number of GPUs >= 0, or null for no quota")
        quotas[accelerator] = gpus
    return quotas


def parse_deployment(raw: Any, *, source: str = "<seed>", where: str = "deployment") -> SeedDeployment:
    """Validate one deployment of a seed (list fields plus simulator fields) and return it.

    Raises :class:`SeedError` naming ``where`` and the field.
    """
    r = Reader(source)
    if not isinstance(raw, Mapping):
        raise r.error(where, "must be a mapping")
    r.no_unknown_fields(raw, where, DEPLOYMENT_FIELDS)
    name = r.text(raw, where, "deployment_name", required=True)
    deployment_id = r.uuid(raw, where, "deployment_id") if "deployment_id" in raw else str(uuid5(SEED_NAMESPACE, name))
    repo_name = r.text(raw, where, "model_repo_name", default=name)
    if "model_repo_id" not in raw:
        repo_id: str | None = str(uuid5(SEED_NAMESPACE, f"model-repo:{repo_name}"))
    elif raw["model_repo_id"] is None:
        repo_id = None
    else:
        repo_id = r.uuid(raw, where, "model_repo_id")
    status, min_replicas, max_replicas, running = _status_and_replicas(r, raw, where)
    health = _seed_health(r, raw, where)
    timeline_raw = raw.get("health_timeline") or []
    extra = raw.get("extra") or {}
    if not isinstance(extra, Mapping):
        raise r.error(f"{where}.extra", "must be a mapping of extra list fields")
    for key in extra:
        if key in LIST_FIELDS:
            raise r.error(f"{where}.extra.{key}", "is a list field of its own; set it directly")
    return SeedDeployment(
        deployment_id=deployment_id,
        deployment_name=name,
        model_repo_id=repo_id,
        model_repo_name=repo_name,
        model_type=r.text(raw, where, "model_type", default="custom"),
        accelerator_type=r.accelerators(raw, where),
        accelerator_count=r.integer(raw, where, "accelerator_count", default=1, minimum=0),
        status=status,
        min_replicas=min_replicas,
        max_replicas=max_replicas,
        running=running,
        startup_seconds=r.number(raw, where, "startup_seconds"),
        delete_seconds=r.number(raw, where, "delete_seconds"),
        health=health,
        health_timeline=parse_timeline(timeline_raw, source=source, where=f"{where}.health_timeline"),
        refuse_min_zero=r.boolean(raw, where, "refuse_min_zero", default=False),
        deletion_failures=r.integer(raw, where, "deletion_failures", default=0, minimum=0),
        extra=dict(extra),
    )


def _status_and_replicas(r: Reader, raw: Mapping[str, Any], where: str) -> tuple[str, int, int, bool]:
    """(status, min_replicas, max_replicas, running) of a seed deployment, checked against one another."""
    status = raw.get("status", DEPLOYED)
    if status not in STATUSES:
        raise r.error(f"{where}.status", f"must be one of {', '.join(STATUSES)}, not {status!r}")
    min_replicas = r.integer(raw, where, "min_replicas", default=1, minimum=0)
    max_replicas = r.integer(raw, where, "max_replicas", default=max(min_replicas, 1), minimum=1)
    if min_replicas > max_replicas:
        raise r.error(f"{where}.min_replicas", f"{min_replicas} is above max_replicas ({max_replicas})")
    running = r.boolean(raw, where, "running", default=status in (DEPLOYED, DEPLOYING))
    if status == DEPLOYED and not (running and min_replicas >= 1):
        raise r.error(
            f"{where}.status",
            "DEPLOYED needs running: true and min_replicas >= 1 "
            "(a paused deployment, or a running one with min_replicas 0, is SCALED_DOWN)",
        )
    if status == SCALED_DOWN and running and min_replicas >= 1:
        raise r.error(
            f"{where}.status",
            "SCALED_DOWN needs running: false (paused) or min_replicas: 0 (scaled to zero)",
        )
    return status, min_replicas, max_replicas, running


def _seed_health(r: Reader, raw: Mapping[str, Any], where: str) -> HealthAnswer | None:
    """The fixed health answer of a seed deployment (``health``, ``pods``, ``messages``), if it has one."""
    if raw.get("health") is not None:
        return parse_health(
            {key: raw[key] for key in ("pods", "messages") if key in raw} | {"data": raw["health"]},
            source=r.source,
            where=where,
            value_field="health",
        )
    if "pods" in raw or "messages" in raw:
        raise r.error(f"{where}.health", "is required when pods or messages are given")
    return None


def parse_health(raw: Any, *, source: str = "<request>", where: str = "", value_field: str = "data") -> HealthAnswer:
    """Validate ``{data, pods?, messages?}`` and return the :class:`HealthAnswer`.

    ``data`` may be any non-empty string, including values outside the contract's list.
    A missing ``pods`` or ``messages`` key means "derived"; ``pods: null`` leaves the
    field out of fetch-status answers. Raises :class:`SeedError` naming the field.
    """
    r = Reader(source)
    if not isinstance(raw, Mapping):
        raise r.error(where, "must be a mapping with `data`")
    data = raw.get("data")
    if not isinstance(data, str) or not data:
        raise r.error(join(where, value_field), "must be a non-empty string (a health value)")
    pods: Any = DERIVED
    if "pods" in raw:
        pods = None if raw["pods"] is None else r.pods(raw["pods"], join(where, "pods"))
    messages: Any = DERIVED
    if "messages" in raw:
        messages = r.messages(raw["messages"], join(where, "messages"))
    return HealthAnswer(data=data, pods=pods, messages=messages)


def parse_timeline(raw: Any, *, source: str = "<request>", where: str = "timeline") -> tuple[TimelineEntry, ...]:
    """Validate a list of ``{after_seconds, data, pods?, messages?}``; return it sorted by time.

    Raises :class:`SeedError` naming the entry and the field.
    """
    r = Reader(source)
    entries = []
    listed = "{after_seconds, data, pods?, messages?}"
    for at, item in r.mappings(raw, where, TIMELINE_FIELDS, listed=listed, each="a mapping"):
        after = r.number(item, at, "after_seconds", required=True) or 0.0
        entries.append(TimelineEntry(after_seconds=after, health=parse_health(item, source=source, where=at)))
    return tuple(sorted(entries, key=lambda entry: entry.after_seconds))


# --- Generated organizations (benchmarks) -------------------------------------

GENERATED_ACCELERATORS = ("nvidia-tesla-t4", "nvidia-l4", "nvidia-a10g", "nvidia-a100", "nvidia-h100", "cpu")
GENERATED_COUNTS = (1, 2, 3, 4, 8)
GENERATED_FAMILIES = ("llama", "mistral", "whisper", "sdxl", "bge", "qwen", "deepseek", "gemma", "phi", "tmp-eval")
#: Status of a generated deployment, weighted: mostly running, a few of every other kind.
GENERATED_STATUSES = ((DEPLOYED, 80), (SCALED_DOWN, 12), (DEPLOYING, 3), (FAILED, 3), (DELETING, 1), (DELETED, 1))


def generate_seed(count: int, *, rng_seed: int = 0) -> SeedDocument:
    """Return a seed of ``count`` deployments, the same for the same ``rng_seed``.

    The deployments spread over 30 accelerator type x count combinations (6 types x
    1, 2, 3, 4 or 8 accelerators), about ten per model repository, with replica
    bounds between 0 and 6, mostly DEPLOYED and a few of every other status. Quotas
    are left unset: no realistic quota covers ten thousand deployments.
    """
    if count < 0:
        raise ValueError("count must be >= 0")
    rng = random.Random(rng_seed)
    statuses = [status for status, _ in GENERATED_STATUSES]
    weights = [weight for _, weight in GENERATED_STATUSES]
    repos = max(1, count // 10)
    deployments = []
    for index in range(count):
        family = GENERATED_FAMILIES[index % len(GENERATED_FAMILIES)]
        combination = rng.randrange(len(GENERATED_ACCELERATORS) * len(GENERATED_COUNTS))
        accelerator = GENERATED_ACCELERATORS[combination // len(GENERATED_COUNTS)]
        accelerators = GENERATED_COUNTS[combination % len(GENERATED_COUNTS)]
        status = rng.choices(statuses, weights)[0]
        min_replicas = rng.randint(1, 3)
        max_replicas = min_replicas + rng.randint(0, 3)
        running = status in (DEPLOYED, DEPLOYING)
        if status == SCALED_DOWN and rng.random() < 0.25:
            running, min_replicas = True, 0  # scaled to zero rather than paused
        repo = index % repos
        deployments.append(
            SeedDeployment(
                deployment_id=str(UUID(int=rng.getrandbits(128), version=4)),
                deployment_name=f"{family}-{index:05d}",
                model_repo_id=str(uuid5(SEED_NAMESPACE, f"generated-repo:{repo}")),
                model_repo_name=f"{family}-repo-{repo:04d}",
                accelerator_type=(accelerator,),
                accelerator_count=accelerators,
                status=status,
                min_replicas=min_replicas,
                max_replicas=max_replicas,
                running=running,
                startup_seconds=float(rng.randint(20, 90)),
            )
        )
    return SeedDocument(deployments=tuple(deployments), source=f"<generated {count}, rng_seed {rng_seed}>")
