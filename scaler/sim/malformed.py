"""Malformed answers for robustness tests: what a damaged platform answer looks like.

:func:`damage` turns the genuine answer of a request into the malformed one the
control API asked for. ``slow_drip`` and ``drop`` keep the genuine bytes and change
how they are sent; :mod:`scaler.sim.app` does the sending.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from scaler.sim.constants import DELETE, GET_HEALTH, LIST_DEPLOYMENTS, STARTSTOP, UPDATE_REPLICAS
from scaler.sim.faults import HTML, LARGE, MISSING_FIELDS, NON_JSON, WRONG_TYPES, Malformed

JSON_TYPE = b"application/json"

#: The fields each endpoint's clients rely on; ``missing_fields`` removes them, ``wrong_types`` retypes them.
REQUIRED_FIELDS = {
    LIST_DEPLOYMENTS: ("deployment_id", "deployment_name", "status", "accelerator_type", "accelerator_count"),
    GET_HEALTH: ("data", "messages", "pods"),
    UPDATE_REPLICAS: ("message", "min_replicas", "max_replicas"),
    STARTSTOP: ("message", "update_result"),
    DELETE: ("message",),
}

#: A proxy's answer when the upstream dropped the connection (Envoy's wording).
NON_JSON_BODY = b"upstream connect error or disconnect/reset before headers. reset reason: connection termination"
HTML_BODY = (
    b"<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    b"<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
)


@dataclass(frozen=True, slots=True)
class Damaged:
    """A complete answer to send: status, content type and body bytes."""

    status: int
    content_type: bytes
    body: bytes


def damage(rule: Malformed, endpoint: str | None, status: int, body: bytes) -> Damaged:
    """Return the malformed version of the genuine answer ``(status, body)`` for ``rule.kind``.

    ``non_json`` answers a proxy's plain text (status 200 unless the rule sets one),
    ``html`` an HTML error page (502 unless set), ``missing_fields`` and ``wrong_types``
    the genuine JSON with the endpoint's fields removed or retyped, ``large`` the genuine
    JSON padded with whitespace to ``size_bytes`` (still valid JSON). Other kinds
    (``slow_drip``, ``drop``) return the genuine answer.
    """
    if rule.kind == NON_JSON:
        return Damaged(rule.status or 200, b"text/plain", NON_JSON_BODY)
    if rule.kind == HTML:
        return Damaged(rule.status or 502, b"text/html", HTML_BODY)
    chosen_status = rule.status or status
    if rule.kind in (MISSING_FIELDS, WRONG_TYPES):
        data = json.loads(body)
        fields = REQUIRED_FIELDS.get(endpoint or "", ())
        change = _without if rule.kind == MISSING_FIELDS else _retyped
        if isinstance(data, list):
            data = [change(item, fields) if isinstance(item, dict) else 12345 for item in data] or [
                change({"deployment_name": "unnamed"}, fields)
            ]
        elif isinstance(data, dict):
            data = change(data, fields)
        return Damaged(chosen_status, JSON_TYPE, json.dumps(data).encode())
    if rule.kind == LARGE:
        return Damaged(chosen_status, JSON_TYPE, body + b" " * max(0, rule.size_bytes - len(body)))
    return Damaged(chosen_status, JSON_TYPE, body)


def _without(item: dict[str, Any], fields: tuple[str, ...]) -> dict[str, Any]:
    """The item without the endpoint's fields (without any of its fields when it has none of them)."""
    if not any(name in item for name in fields):
        return {}
    return {key: value for key, value in item.items() if key not in fields}


def _retyped(item: dict[str, Any], fields: tuple[str, ...]) -> dict[str, Any]:
    """The item with the endpoint's fields given values of the wrong JSON type."""
    targets = [name for name in fields if name in item] or list(item)
    changed = dict(item)
    for name in targets:
        changed[name] = _wrong_type(item[name])
    return changed


def _wrong_type(value: Any) -> Any:
    if isinstance(value, bool):
        return "yes"
    if isinstance(value, (int, float)):
        return "three"
    if isinstance(value, str):
        return 12345
    if isinstance(value, list):
        return "not-a-list"
    if isinstance(value, dict):
        return ["not", "an", "object"]
    return {"unexpected": True}
