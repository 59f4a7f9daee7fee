"""Markdown reference of the campaign file, generated from the schema (``python -m seiflow.schemas.docs``)."""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel

from seiflow.registry import _Choice
from seiflow.schemas.campaign import Campaign

HEADER = """# Campaign files (`workflows/*.yaml`)

A campaign file defines one active-learning campaign. Check one with `seiflow validate FILE`
(`--json` prints it with every default filled in); submit it with `seiflow submit FILE`.
Unknown keys are errors. This page is generated from the schema (`python -m seiflow.schemas.docs`);
a test keeps it in step. Keys marked "one ..." or "mapping of ..." take registered parts: each choice is
listed below its key with its own settings (a new part registered in `seiflow.registry` shows up here).

| key | type | default | meaning |
|---|---|---|---|
"""


def _type_name(annotation: Any) -> str:
    text = getattr(annotation, "__name__", None) or str(annotation)
    return text.replace("typing.", "").replace("|", "or").replace("Literal", "one of")


def _choice_of(field: Any) -> Any:
    """The registry hook of a field that holds registered parts, or None."""
    found = [m for m in field.metadata if isinstance(m, _Choice)]
    for arg in getattr(field.annotation, "__args__", ()):
        found += [m for m in getattr(arg, "__metadata__", ()) if isinstance(m, _Choice)]
    return found[0] if found else None


def _default(field: Any) -> str:
    if field.is_required():
        return "required"
    value = field.get_default(call_default_factory=True)
    return f"`{json.dumps(value, default=str)}`"


def _choice_rows(key: str, field: Any, choice: Any) -> list[str]:
    """A registered-part field and, for each registered choice, its settings."""
    reg = choice.registry
    kind = f"{'mapping of' if choice.many else 'one'} {reg.kind}"
    desc = (field.description or "").replace("|", "/")
    rows = [f"| `{key}` | {kind} | {_default(field)} | {desc} Choices: {', '.join(reg.names())}. |"]
    for name, _cls, settings in reg.items():
        sub = f"{key}.{name}" if choice.many else f"{key} ({reg.key}: {name})"
        doc = (settings.__doc__ or "").strip().splitlines()[0] if settings.__doc__ else ""
        rows.append(f"| `{sub}` | choice | | {doc.replace('|', '/')} |")
        rows.extend(r for r in _rows(settings, f"{sub}.", skip={reg.key}))
    return rows


def _rows(model: type[BaseModel], prefix: str = "", skip: set[str] = frozenset()) -> list[str]:
    rows = []
    for name, field in model.model_fields.items():
        if name in skip:
            continue
        key = f"{prefix}{name}"
        annotation = field.annotation
        choice = _choice_of(field)
        if choice is not None:
            rows.extend(_choice_rows(key, field, choice))
            continue
        sub = annotation if isinstance(annotation, type) and issubclass(annotation, BaseModel) else None
        if sub is None and getattr(annotation, "__origin__", None) is dict:  # {name: section}
            value = annotation.__args__[1]
            if isinstance(value, type) and issubclass(value, BaseModel):
                rows.append(f"| `{key}` | mapping of name to section | `{{}}` | "
                            f"{(field.description or '').replace('|', '/')} |")
                rows.extend(_rows(value, f"{key}.<name>."))
                continue
        if sub is None:
            for arg in getattr(annotation, "__args__", ()):
                if isinstance(arg, type) and issubclass(arg, BaseModel):
                    sub = arg
        if sub is not None:
            rows.append(f"| `{key}` | section | | {(sub.__doc__ or '').strip().splitlines()[0]} |")
            rows.extend(_rows(sub, f"{key}."))
            continue
        desc = (field.description or "").replace("|", "/")
        rows.append(f"| `{key}` | {_type_name(annotation).replace('|', '/')} | {_default(field)} | {desc} |")
    return rows


def campaign_reference() -> str:
    """The whole reference page."""
    return HEADER + "\n".join(_rows(Campaign)) + "\n"


if __name__ == "__main__":
    print(campaign_reference(), end="")
