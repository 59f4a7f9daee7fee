"""Where seiflow keeps things: one settings file (``seiflow.yaml``) plus ``SEIFLOW_*`` environment variables.

Search order for the file: ``$SEIFLOW_CONFIG``, ``./seiflow.yaml``, ``~/.seiflow.yaml``; without one the
embedded default is used (a local MongoDB-protocol server on 127.0.0.1:27101, data under ``~/.seiflow``).
Environment variables override the file (``SEIFLOW_WORK_DIR``, ``SEIFLOW_EMBEDDED__PORT``...).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from seiflow.constants import EMBEDDED_HOST, EMBEDDED_PORT, LAUNCHPAD_FILE, SETTINGS_FILE
from seiflow.errors import InputError

DEFAULT_HOME = Path("~/.seiflow")


class EmbeddedServerSettings(BaseModel):
    """The embedded MongoDB-protocol server (SecantusDB's daemon, run as a separate process)."""

    model_config = ConfigDict(extra="forbid")

    host: str = Field(EMBEDDED_HOST, description="Bind address; keep it on loopback.")
    port: int = Field(EMBEDDED_PORT, ge=1, le=65535, description="TCP port of the server.")
    storage_path: Path = Field(DEFAULT_HOME / "db", description="Folder holding the server's data.")
    auto_start: bool = Field(
        True, description="Start it when a command needs the store and the LaunchPad points at it."
    )


class Settings(BaseSettings):
    """seiflow's settings. Connection details live in ``launchpad_file`` (FireWorks' own format)."""

    model_config = SettingsConfigDict(
        env_prefix="SEIFLOW_", env_nested_delimiter="__", extra="forbid", validate_default=True
    )

    launchpad_file: Path | None = Field(
        None,
        description="FireWorks launchpad.yaml. None: ./launchpad.yaml if present, else the embedded default.",
    )
    database: str | None = Field(
        None, description="Database for frames/models/rounds; None means the LaunchPad's own database."
    )
    work_dir: Path = Field(DEFAULT_HOME / "runs", description="Where local runs write their files.")
    embedded: EmbeddedServerSettings = Field(default_factory=EmbeddedServerSettings)
    inline_array_limit: int = Field(
        262_144, ge=1024, description="Arrays larger than this many bytes go to GridFS, not inline."
    )
    # Outage tolerance: every MongoDB call waits this long for an unreachable server
    # (pymongo serverSelectionTimeoutMS, also written into workers' launchpad.yaml) before failing.
    db_wait_s: float = Field(
        120.0, ge=1, description="Seconds a database call waits for a server that went away before failing."
    )

    keep_run_files: Literal["user", "all"] = Field(
        "user", description="user: run folders keep logs, inputs and final models once stored; all: everything."
    )

    def resolved_work_dir(self) -> Path:
        """``work_dir`` with ``~`` expanded."""
        return self.work_dir.expanduser()


def find_settings_file() -> Path | None:
    """The settings file in use, following the documented search order."""
    env = os.environ.get("SEIFLOW_CONFIG")
    if env:
        path = Path(env).expanduser()
        if not path.is_file():
            raise InputError(
                f"SEIFLOW_CONFIG points at {path}, which is not a file",
                "create it or unset SEIFLOW_CONFIG",
            )
        return path
    for candidate in (Path.cwd() / SETTINGS_FILE, Path.home() / f".{SETTINGS_FILE}"):
        if candidate.is_file():
            return candidate
    return None


def _format_validation_error(error: ValidationError, source: str) -> str:
    parts = []
    for item in error.errors():
        loc = ".".join(str(x) for x in item["loc"]) or "(top level)"
        parts.append(f"{loc}: {item['msg']}")
    return f"{source}: " + "; ".join(parts)


def load_settings(path: Path | None = None) -> Settings:
    """Read settings from ``path`` (or the search order), then apply ``SEIFLOW_*`` variables."""
    path = path or find_settings_file()
    data: dict[str, Any] = {}
    if path is not None:
        try:
            data = yaml.safe_load(Path(path).read_text()) or {}
        except yaml.YAMLError as exc:
            raise InputError(f"{path} is not valid YAML: {exc}", "fix the YAML syntax") from exc
        if not isinstance(data, dict):
            raise InputError(f"{path} must hold a mapping of settings", "see README 'Settings'")
        if data.get("launchpad_file"):
            lp = Path(data["launchpad_file"]).expanduser()
            data["launchpad_file"] = lp if lp.is_absolute() else Path(path).parent / lp
    try:
        env_only = Settings()
        merged = {**data, **env_only.model_dump(exclude_unset=True)}
        return Settings(**merged)
    except ValidationError as exc:
        raise InputError(
            _format_validation_error(exc, str(path or "SEIFLOW_* environment")),
            "see the allowed keys in README 'Settings'",
        ) from exc


def launchpad_file(settings: Settings) -> Path | None:
    """The launchpad.yaml in use, or None for the embedded default."""
    if settings.launchpad_file is not None:
        return settings.launchpad_file.expanduser()
    local = Path.cwd() / LAUNCHPAD_FILE
    return local if local.is_file() else None
