"""Markdown reference of the campaign file, generated from the schema (``python -m seiflow.schemas.docs``)."""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel

from seiflow.schemas.campaign import Campaign

HEADER = """# Campaign files (`workflows/*.yaml`)

A campaign file defines one active-learning campaign. Check one with `seiflow validate FILE`
(`--json` prints it with every default filled in); submit it with `seiflow submit FILE`.
Unknown keys are errors. This page is generated from the schema (`python -m seiflow.schemas.docs`);
a test keeps it in step.

| key | type | default | meaning |
|---|---|---|---|
"""


def _type_name(annotation: Any) -> str:
    text = getattr(annotation, "__name__", None) or str(annotation)
    return text.replace("typing.", "").replace("|", "or").replace("Literal", "one of")


def _rows(model: type[BaseModel], prefix: str = "") -> list[str]:
    rows = []
    for name, field in model.model_fields.items():
        key = f"{prefix}{name}"
        annotation = field.annotation
        sub = annotation if isinstance(annotation, type) and issubclass(annotation, BaseModel) else None
        if sub is None:
            for arg in getattr(annotation, "__args__", ()):
                if isinstance(arg, type) and issubclass(arg, BaseModel):
                    sub = arg
        if sub is not None:
            rows.append(f"| `{key}` | section | | {(sub.__doc__ or '').strip().splitlines()[0]} |")
            rows.extend(_rows(sub, f"{key}."))
            continue
        if field.is_required():
            default = "required"
        else:
            value = field.get_default(call_default_factory=True)
            default = f"`{json.dumps(value, default=str)}`"
        desc = (field.description or "").replace("|", "/")
        rows.append(f"| `{key}` | {_type_name(annotation).replace('|', '/')} | {default} | {desc} |")
    return rows


def campaign_reference() -> str:
    """The whole reference page."""
    return HEADER + "\n".join(_rows(Campaign)) + "\n"


if __name__ == "__main__":
    print(campaign_reference(), end="")
