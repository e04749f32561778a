"""Settings: the one table of every ``EXPUNGE_*`` environment variable.

Nothing below this module reads the environment: areas take every setting as a constructor or
function argument, and the CLI and the service build them from :func:`get_settings`.
"""

from __future__ import annotations

import os
import re
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict, SettingsError

from expunge.errors import ConfigError

__all__ = ["DEFAULT_DUE_SOON_DAYS", "DEFAULT_SLA_DAYS", "Settings", "get_settings"]

# Days to answer a data-subject request: GDPR Art. 12(3) one month, CCPA §1798.130 45 days, LGPD Art. 19 15 days.
DEFAULT_SLA_DAYS: dict[str, int] = {"gdpr": 30, "ccpa": 45, "lgpd": 15}
# An open request this many days from its deadline is reported as due soon.
DEFAULT_DUE_SOON_DAYS = 5


class Settings(BaseSettings):
    """Every setting of expunge, read from ``EXPUNGE_<NAME>`` variables."""

    model_config = SettingsConfigDict(env_prefix="EXPUNGE_", extra="ignore", frozen=True)

    home: Path = Field(
        default=Path(".expunge"),
        description="Folder for the embedded database, caches and converted data sets.",
    )
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL of the catalog, bus and evidence database; "
        "default: a SQLite file under `home`. Use postgresql+psycopg://… to share it between machines.",
    )
    fashion_mnist_dir: Path = Field(
        default=Path("/usr/share/datasets/fashion-mnist"),
        description="Folder holding the Fashion-MNIST idx files (Debian package dataset-fashion-mnist).",
    )
    threads: int = Field(
        default=2,
        ge=1,
        le=256,
        description="Threads PyTorch may use for training and unlearning.",
    )

    keys_dir: Path | None = Field(
        default=None,
        description="Folder of the install's secret keys (Ed25519 signing key, pseudonym HMAC key, "
        "token key); default: `home`/keys. Every worker and API replica must share it.",
    )
    sla_days: dict[Annotated[str, Field(pattern=r"^[a-z0-9_]{1,16}$")], Annotated[int, Field(ge=1, le=3650)]] = Field(
        default_factory=lambda: dict(DEFAULT_SLA_DAYS),
        description="Days to answer a data-subject request, per regulation (JSON object).",
        examples=['{"gdpr": 30, "ccpa": 45}'],
    )
    due_soon_days: int = Field(
        default=DEFAULT_DUE_SOON_DAYS,
        ge=0,
        le=365,
        description="An open request this many days from its deadline is due soon.",
    )
    token_ttl_seconds: int = Field(
        default=86_400, ge=60, le=30 * 86_400, description="Lifetime of a requester verification token."
    )
    bus_max_attempts: int = Field(
        default=8, ge=1, le=100, description="Deliveries tried this many times go to the dead-letter table."
    )
    bus_backoff_seconds: float = Field(
        default=1.0, gt=0, le=3600, description="First retry delay of the bus; it doubles on each attempt."
    )
    bus_backoff_max_seconds: float = Field(
        default=900.0, gt=0, le=86_400, description="Longest retry delay of the bus."
    )
    outbox_payload_retention_days: float = Field(
        default=0.0,
        ge=0,
        le=3650,
        description="Days a delivered deletion event keeps the subject pseudonyms and content hashes it matched "
        "by (log sweeps); 0 drops them as soon as the worker is idle after delivering it.",
    )
    webhook_endpoints: dict[str, str] = Field(
        default={},
        description="External processors by name → URL receiving signed deletion events for webhook://<name>/… "
        "artifacts (JSON object).",
        examples=['{"crm": "https://crm.example.org/expunge"}'],
    )
    serve_worker: bool = Field(
        default=False, description="`expunge serve` also runs the deletion bus in a background thread."
    )
    max_body_bytes: int = Field(
        default=1_048_576, ge=1024, le=64 * 1_048_576, description="Largest HTTP request body the service reads."
    )
    default_phone_region: str | None = Field(
        default=None,
        description="ISO 3166-1 alpha-2 code (DE, FR, US…) of the country of phone numbers written without their "
        "country code, in requests and in documents; unset: such numbers are refused at intake and not linked at "
        "ingest.",
    )
    rag_store: str | None = Field(
        default=None,
        description="URL of the RAG vector store: lancedb://PATH, chroma://PATH or memory://NAME; "
        "default: lancedb://`home`/rag/store.",
    )
    rag_index: str = Field(
        default="default",
        pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$",
        description="Name of the RAG index in catalog URIs (rag://NAME/chunk/ID).",
    )
    rag_cache_ttl_seconds: float = Field(
        default=3600.0,
        gt=0,
        le=30 * 86_400,
        description="Time to live of RAG cache entries (a missed deletion signal still expires).",
    )

    @field_validator("default_phone_region")
    @classmethod
    def _region(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        import phonenumbers

        code = value.strip().upper()
        if code not in phonenumbers.SUPPORTED_REGIONS:
            raise ValueError("must be an ISO 3166-1 alpha-2 code with a telephone numbering plan, such as DE or US")
        return code

    @field_validator("home", "fashion_mnist_dir", "keys_dir")
    @classmethod
    def _expand(cls, value: Path | None) -> Path | None:
        return None if value is None else value.expanduser()

    @field_validator("home", "keys_dir")
    @classmethod
    def _folder(cls, value: Path | None) -> Path | None:
        # Checked here, not where the first file is written: a file in the way is a setting to fix.
        if value is not None and value.exists() and not value.is_dir():
            raise ValueError(f"{str(value)!r} is a file; give a folder (it is created if missing)")
        return value

    @property
    def cache_dir(self) -> Path:
        """Git-ignored folder for converted data sets and trained models."""
        return self.home / "cache"

    @property
    def resolved_keys_dir(self) -> Path:
        """The folder of the install's secret keys in force."""
        return (self.keys_dir or self.home / "keys").expanduser()

    @property
    def resolved_rag_store(self) -> str:
        """The RAG vector store URL in force."""
        return self.rag_store or f"lancedb://{(self.home / 'rag' / 'store').resolve()}"

    @property
    def rag_cache_path(self) -> Path:
        """The SQLite file of the RAG caches."""
        return self.home / "rag" / "cache.sqlite"

    @property
    def resolved_database_url(self) -> str:
        """The database URL in force: the setting, or the embedded SQLite file under ``home``."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.home / 'expunge.db').resolve()}"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Read the settings once from the environment.

    Raises:
        ConfigError: An ``EXPUNGE_*`` variable holds a value its field does not accept.
    """
    try:
        return Settings()
    except ValidationError as err:
        problems = "; ".join(_problem(e) for e in err.errors())
        raise ConfigError(f"Invalid settings: {problems}.") from err
    except SettingsError as err:  # a JSON-valued variable that is not JSON
        raise ConfigError(_not_json(err)) from err


def _problem(error: Any) -> str:
    name, *inside = (str(p) for p in error["loc"])
    where = f" at {'.'.join(inside)!r}" if inside else ""
    field = Settings.model_fields.get(name)
    lows = [m.ge for m in field.metadata if getattr(m, "ge", None) is not None] if field else []
    highs = [m.le for m in field.metadata if getattr(m, "le", None) is not None] if field else []
    accepted = f"; accepted: {lows[0]} to {highs[0]}" if lows and highs and not inside else ""
    message = str(error["msg"]).removeprefix("Value error, ")
    return f"EXPUNGE_{name.upper()}{where}: {message}{accepted} (got {error.get('input')!r})"


def _not_json(err: SettingsError) -> str:
    found = re.search(r'field "(\w+)"', str(err))
    if found is None or found.group(1) not in Settings.model_fields:
        return f"Invalid settings: {err}."
    name = found.group(1)
    variable = f"EXPUNGE_{name.upper()}"
    value = os.environ.get(variable, os.environ.get(variable.lower()))
    examples = Settings.model_fields[name].examples or ['{"name": "value"}']
    return f"Invalid settings: {variable} must be a JSON object like {examples[0]}; got {value!r}, which is not JSON."
