"""Registries: one plain name -> class map per kind of swappable part.

A part (a reference code, a local calculator, a selection filter, a descriptor, a convergence
criterion, ...) is one class that registers itself under a name and declares its settings as a pydantic
model: ``settings_model`` on the class, or the class itself when it is a pydantic model. The campaign
schema reads the registries through :meth:`Registry.choice` (one part, e.g. ``labelling.reference``) and
:meth:`Registry.mapping` (several, keyed by name, e.g. ``convergence.criteria``): discriminated unions of
the registered settings, built when a campaign is first validated.

The registries sit at the bottom of the layers and know their providers only as package names: the
first lookup imports every module of those packages, so a new part is one class and its registration,
with no other file edited (dpgen2's ``exploration/report/__init__.py`` registries, found instead of listed).

Examples
--------
>>> from pydantic import BaseModel
>>> SHAPES = Registry("shape", key="name", packages=())
>>> @SHAPES.register("disc")
... class Disc(BaseModel):
...     radius: float = 1.0
>>> SHAPES.validate({"name": "disc", "radius": 2.0}).radius
2.0
>>> SHAPES.names()
['disc']
"""

from __future__ import annotations

import dataclasses
import importlib
import pkgutil
import threading
import typing
from collections.abc import Callable, Iterator
from typing import Annotated, Any, Generic, Literal, TypeVar, Union

from pydantic import BaseModel, ConfigDict, Field, GetCoreSchemaHandler, TypeAdapter, create_model
from pydantic_core import core_schema

from seiflow.errors import InputError

T = TypeVar("T")
_LOCK = threading.RLock()


class Registry(Generic[T]):
    """A name -> class map of one kind of part, with the settings model each class declares.

    Parameters
    ----------
    kind
        What the parts are, for messages ("reference", "selection filter").
    key
        The field that names the part in a campaign file (``code``, ``name``).
    packages
        Packages whose modules register parts; imported on first lookup.
    """

    def __init__(self, kind: str, key: str = "name", packages: tuple[str, ...] = ()):
        self.kind = kind
        self.key = key
        self.packages = packages
        self._classes: dict[str, type[T]] = {}
        self._settings: dict[str, type[BaseModel]] = {}
        self._adapter: TypeAdapter | None = None
        self._loaded = not packages
        self._derived: list[tuple[Registry, type, type[BaseModel] | None]] = []
        self._derived_names: set[str] = set()

    # registration -------------------------------------------------------------------------------
    def register(
        self, name: str, settings: type[BaseModel] | None = None
    ) -> Callable[[type[T]], type[T]]:
        """Class decorator: register the class under ``name`` with its settings model."""

        def add(cls: type[T]) -> type[T]:
            model = settings or cls.__dict__.get("settings_model") or getattr(cls, "settings_model", None)
            if model is None and isinstance(cls, type) and issubclass(cls, BaseModel):
                model = cls
            if model is None and dataclasses.is_dataclass(cls):
                model = settings_from_dataclass(cls, exclude={self.key})
            if model is None:
                raise TypeError(f"{cls.__name__} declares no settings_model for {self.kind} {name!r}")
            with _LOCK:
                known = self._classes.get(name)
                if known is not None and known.__qualname__ != cls.__qualname__:
                    raise ValueError(f"{self.kind} {name!r} is registered twice ({known} and {cls})")
                tagged = create_model(
                    f"{model.__name__}[{name}]", __base__=model, __module__=model.__module__,
                    **{self.key: (Literal[name], Field(name, description=f"The {self.kind}: {name}."))},
                )
                tagged.__doc__ = model.__doc__
                self._classes[name] = cls
                self._settings[name] = tagged
                self._adapter = None
            return cls

        return add

    def include(self, source: Registry, cls: type[T], settings: type[BaseModel] | None = None) -> None:
        """Register ``cls`` under every name of ``source`` too (each local calculator is a reference)."""
        self._derived.append((source, cls, settings))
        if self._loaded:
            self._add_derived()

    def _add_derived(self) -> None:
        """Register the included names (listed before this registry's own)."""
        for source, cls, settings in self._derived:
            for name in source.names():
                if name not in self._classes:
                    self.register(name, settings)(cls)
                    self._derived_names.add(name)

    def load(self) -> None:
        """Import every module of the provider packages once (their classes register themselves)."""
        if self._loaded:
            return
        with _LOCK:
            if self._loaded:
                return
            for package in self.packages:
                pkg = importlib.import_module(package)
                for info in pkgutil.walk_packages(pkg.__path__, prefix=f"{package}."):
                    importlib.import_module(info.name)
            self._loaded = True
            self._add_derived()

    # lookup -------------------------------------------------------------------------------------
    def names(self) -> list[str]:
        """Registered names: included ones first, then the rest alphabetically (import order varies)."""
        self.load()
        derived = [n for n in self._classes if n in self._derived_names]
        return derived + sorted(n for n in self._classes if n not in self._derived_names)

    def get(self, name: str) -> type[T]:
        """The class registered as ``name``; an InputError naming the choices otherwise."""
        self.load()
        try:
            return self._classes[name]
        except KeyError:
            raise InputError(
                f"{name!r} is not a known {self.kind}", f"use one of {', '.join(self.names())}"
            ) from None

    def settings_model(self, name: str) -> type[BaseModel]:
        """The settings model of ``name`` (with its ``key`` field)."""
        self.get(name)
        return self._settings[name]

    def items(self) -> Iterator[tuple[str, type[T], type[BaseModel]]]:
        """(name, class, settings model) for every registered part."""
        for name in self.names():
            yield name, self._classes[name], self._settings[name]

    def __contains__(self, name: object) -> bool:
        self.load()
        return name in self._classes

    # validation ---------------------------------------------------------------------------------
    def _union(self) -> TypeAdapter:
        self.load()
        with _LOCK:
            if self._adapter is None:
                models = tuple(self._settings[n] for n in self.names())
                union = models[0] if len(models) == 1 else Union[models]  # noqa: UP007
                self._adapter = TypeAdapter(Annotated[union, Field(discriminator=self.key)])
            return self._adapter

    def validate(self, value: Any) -> BaseModel:
        """Settings of one part from a name, a mapping with the ``key`` field, or settings."""
        if isinstance(value, BaseModel) and type(value) in self._settings.values():
            return value
        if isinstance(value, BaseModel):
            value = value.model_dump()
        if isinstance(value, str):
            value = {self.key: value}
        if not isinstance(value, dict):
            raise ValueError(f"give a {self.kind} name, or a mapping with its {self.key!r} and settings")
        return self._union().validate_python(value)

    def validate_mapping(self, value: Any) -> dict[str, BaseModel]:
        """Settings of several parts from ``{name: settings or None}`` (or a list of names)."""
        if isinstance(value, list | tuple):
            if not all(isinstance(name, str) for name in value):
                raise ValueError(f"a list of {self.kind}s holds names only; give settings as a mapping")
            value = {name: None for name in value}
        if not isinstance(value, dict):
            raise ValueError(f"give the {self.kind}s as a mapping of name to settings")
        out = {}
        for name, settings in value.items():
            if not isinstance(name, str):
                raise ValueError(f"{self.kind} names are strings (got {name!r})")
            if isinstance(settings, BaseModel):
                out[name] = self.validate(settings)
                continue
            if settings is not None and not isinstance(settings, dict):
                raise ValueError(f"{self.kind} {name!r}: give its settings as a mapping (or nothing)")
            out[name] = self.validate({**(settings or {}), self.key: name})
        return out

    def dump(self, settings: BaseModel, mode: str = "python") -> dict[str, Any]:
        """The settings as a mapping, the ``key`` field first."""
        data = settings.model_dump(mode=mode)
        return {self.key: data.pop(self.key), **data}

    def create(self, settings: BaseModel | str, **kwargs: Any) -> T:
        """An instance of the registered class from its settings.

        ``from_settings`` when the class has one; a dataclass gets the settings fields (and
        ``kwargs``) as arguments; a pydantic class is its own settings.
        """
        settings = self.validate(settings)
        cls = self.get(getattr(settings, self.key))
        factory = getattr(cls, "from_settings", None)
        if factory is not None:
            return factory(settings, **kwargs)
        if dataclasses.is_dataclass(cls):
            names = {f.name for f in dataclasses.fields(cls)}
            values = {k: v for k, v in dict(settings).items() if k in names and k != self.key}
            if self.key in names:
                values[self.key] = getattr(settings, self.key)
            return cls(**values, **kwargs)
        return settings  # type: ignore[return-value]  # the class is its own settings model

    # schema types -------------------------------------------------------------------------------
    def choice(self) -> Any:
        """An annotation for one part: ``name`` or ``{key: name, ...settings}`` in a campaign file."""
        return Annotated[BaseModel, _Choice(self, many=False)]

    def mapping(self) -> Any:
        """An annotation for several parts: ``{name: {settings}}`` in a campaign file."""
        return Annotated[dict[str, BaseModel], _Choice(self, many=True)]


class _Choice:
    """Pydantic hook that validates and serialises registered settings lazily (after discovery)."""

    def __init__(self, registry: Registry, many: bool):
        self.registry = registry
        self.many = many

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> Any:
        reg = self.registry

        def validate(value: Any) -> Any:
            return reg.validate_mapping(value) if self.many else reg.validate(value)

        def serialise(value: Any, info: core_schema.SerializationInfo) -> Any:
            mode = "json" if info.mode_is_json() else "python"
            if self.many:
                return {k: _without(reg.dump(v, mode), reg.key) for k, v in value.items()}
            return reg.dump(value, mode)

        return core_schema.no_info_plain_validator_function(
            validate,
            serialization=core_schema.plain_serializer_function_ser_schema(serialise, info_arg=True),
        )

    def __get_pydantic_json_schema__(self, schema: Any, handler: Any) -> dict[str, Any]:
        names = self.registry.names()
        if self.many:
            return {"type": "object", "propertyNames": {"enum": names}}
        return {"anyOf": [{"type": "string", "enum": names}, {"type": "object"}]}


def settings_from_dataclass(
    cls: type,
    exclude: set[str] = frozenset(),
    include: tuple[str, ...] | None = None,
    base: type[BaseModel] | None = None,
) -> type[BaseModel]:
    """A pydantic settings model with a dataclass's init fields (description from ``metadata``).

    Fields listed in the class's ``settings_exclude`` (given by the caller, not the user) are left out.
    ``include`` keeps only those fields, in that order; ``base`` (a settings model) comes first with its own
    fields and validators, and gives the docstring.
    """
    skip = set(exclude) | set(getattr(cls, "settings_exclude", ()))
    by_name = {f.name: f for f in dataclasses.fields(cls)}
    names = list(include) if include is not None else list(by_name)
    hints = _field_hints(cls, names)
    fields: dict[str, Any] = {}
    for name in names:
        f = by_name[name]
        if not f.init or f.name in skip or f.name.startswith("_"):
            continue
        default: Any = f.default
        if f.default is dataclasses.MISSING and f.default_factory is not dataclasses.MISSING:
            info = Field(default_factory=f.default_factory, description=f.metadata.get("description"))
        else:
            default = ... if f.default is dataclasses.MISSING else f.default
            info = Field(default, description=f.metadata.get("description"))
        fields[f.name] = (hints[f.name], info)
    config: dict[str, Any] = {"__base__": base} if base is not None else {"__config__": ConfigDict(extra="forbid")}
    model = create_model(f"{cls.__name__}Settings", __module__=cls.__module__, **config, **fields)
    model.__doc__ = base.__doc__ if base is not None else cls.__doc__
    return model


def _field_hints(cls: type, names: list[str]) -> dict[str, Any]:
    """The resolved annotations of ``names`` only, each in its defining class's module.

    ``typing.get_type_hints(cls)`` would also resolve annotations the settings never use (a ClassVar
    naming a type imported for type checking only).
    """
    hints: dict[str, Any] = {}
    for name in names:
        owner = next(k for k in cls.__mro__ if name in k.__dict__.get("__annotations__", {}))
        single = type("_Hint", (), {"__annotations__": {name: owner.__annotations__[name]},
                                    "__module__": owner.__module__})
        hints[name] = typing.get_type_hints(single, include_extras=True)[name]
    return hints


def _without(data: dict[str, Any], key: str) -> dict[str, Any]:
    return {k: v for k, v in data.items() if k != key}


# The registries (providers are found in these packages; see each class's ``register`` line).
REFERENCES: Registry = Registry("reference", key="code", packages=("seiflow.labelling",))
CALCULATORS: Registry = Registry("local calculator", key="name", packages=("seiflow.labelling",))
FILTERS: Registry = Registry("selection filter", key="name", packages=("seiflow.selection",))
DESCRIPTORS: Registry = Registry("descriptor", key="name", packages=("seiflow.selection",))
CRITERIA: Registry = Registry("convergence criterion", key="name", packages=("seiflow.convergence",))
MODEL_DESCRIPTORS: Registry = Registry("DeePMD descriptor", key="type", packages=("seiflow.training",))
