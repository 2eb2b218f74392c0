"""The JSON Schema of policy files, generated from the models.

``scaler/policy/schema.json`` (shipped in the package, printed by ``scaler schema``) is
this module's output; regenerate it after changing the models with ``make schema``
(a test fails while it is out of date). Editors that speak the YAML language server use
it through a first line ``# yaml-language-server: $schema=<path or URL of schema.json>``.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from pydantic.json_schema import GenerateJsonSchema

from scaler.policy.durations import format_duration
from scaler.policy.model import DesiredState, PolicyFile

#: Where the schema is served as plain JSON (an editor's modeline may point at it).
SCHEMA_ID = "https://raw.githubusercontent.com/simplismart/simplismart-scaler/main/scaler/policy/schema.json"


class _PolicySchemaGenerator(GenerateJsonSchema):
    """Writes defaults as a policy file would (``5m``, ``stopped``) and leaves out null and titles."""

    def nullable_schema(self, schema: Any) -> Any:
        return self.generate_inner(schema["schema"])

    def default_schema(self, schema: Any) -> Any:
        json_schema = super().default_schema(schema)
        if json_schema.get("default", 0) is None:
            del json_schema["default"]
        return json_schema

    def encode_default(self, dft: Any) -> Any:
        if isinstance(dft, timedelta):
            return format_duration(dft)
        if isinstance(dft, DesiredState):
            return dft.describe()
        return super().encode_default(dft)

    def field_title_should_be_set(self, schema: Any) -> bool:
        return False


def policy_file_schema() -> dict[str, Any]:
    """Return the JSON Schema (draft 2020-12) of one policy file."""
    schema = PolicyFile.model_json_schema(by_alias=True, mode="validation", schema_generator=_PolicySchemaGenerator)
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": SCHEMA_ID, **schema}


def render_schema() -> str:
    """Return the schema as the text committed in ``scaler/policy/schema.json``."""
    return json.dumps(policy_file_schema(), indent=2, ensure_ascii=False) + "\n"


if __name__ == "__main__":  # pragma: no cover - exercised by the documented command
    print(render_schema(), end="")
