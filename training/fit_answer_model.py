"""Fit the sentence ranker and the answerability model of qa/answering/ranker.py; with --write,
store their coefficients in qa/models/ranker.json.

    python -m training.fit_answer_model ../shared/data/squad2-dev-a.json [--cache FILE] [--write]

The SQuAD file's paragraphs are all indexed (so every question meets the same distractors as
in `qa eval`), then split by Wikipedia article: questions on TRAIN_TITLES fit the models,
questions on the other articles (the dev split) choose the confidence threshold and give the
held-out figures printed. Deterministic: same file, same coefficients.

- Sentence ranker: per train answerable question, the softmax over its candidate sentences is
  fitted to put the mass on those holding a gold answer (SQuAD normalization).
- Answerability: logistic regression, one row per train question, features of its top-ranked
  sentence, label "answerable and the top sentence holds a gold answer" (abstaining is right
  otherwise). The threshold printed balances abstain precision and recall on the train split;
  the dev split's figures at it are the held-out ones.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import pickle
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from sklearn.linear_model import LogisticRegression  # noqa: E402
from tqdm import tqdm  # noqa: E402

from qa.answering.answerer import SentenceAnswerer  # noqa: E402
from qa.answering.pipeline import make_retriever  # noqa: E402
from qa.answering.ranker import (  # noqa: E402
    ABSTAIN_FEATURES,
    FITTED,
    SENTENCE_FEATURES,
    Candidate,
    QuestionTerms,
    abstain_features,
    rank_candidates,
)
from qa.config import load_settings  # noqa: E402
from qa.evaluation.evaluate import index_dataset  # noqa: E402
from qa.evaluation.metrics import contains_answer, precision_recall  # noqa: E402
from qa.evaluation.squad import SquadQuestion, load_squad  # noqa: E402
from qa.ingest.sentences import SpacySplitter  # noqa: E402
from qa.store.files import replaced_atomically  # noqa: E402
from qa.store.lexical import BM25Index  # noqa: E402
from qa.wiring import make_embedder  # noqa: E402

TRAIN_TITLES = frozenset(
    {"Normans", "Computational_complexity_theory", "Huguenot", "Steam_engine", "1973_oil_crisis"}
)
OUTPUT = FITTED


@dataclass
class Example:
    question: SquadQuestion
    terms: QuestionTerms
    candidates: list[Candidate]
    labels: list[bool]

    @property
    def train(self) -> bool:
        return self.question.article_id.split("#")[0] in TRAIN_TITLES


def collect(dataset_path: Path) -> list[Example]:
    """Candidates and features of every question, retrieved as the pipeline retrieves."""
    settings = load_settings(Path(__file__).resolve().parent.parent / "config.yaml", env={})
    dataset = load_squad(dataset_path)
    embedder = make_embedder(settings)
    examples = []
    with tempfile.TemporaryDirectory() as folder:
        components, _ = index_dataset(dataset, settings, embedder, SpacySplitter(), Path(folder))
        index = components.index
        lexical = BM25Index(index)
        retriever = make_retriever(index, lexical, settings, "hybrid")
        answerer = SentenceAnswerer(0.0, lexical)
        vectors = embedder.encode_queries([q.question for q in dataset.questions])
        for question, vector in tqdm(
            zip(dataset.questions, vectors, strict=True), total=len(vectors), desc="features"
        ):
            found = retriever.retrieve(
                question.question, vector, settings.retrieval.candidate_chunks
            )
            scores = {r.chunk_id: r.score for r in found}
            chunks = [(c, scores[c.id]) for c in index.store.chunks([r.chunk_id for r in found])]
            terms, ranked = answerer.rank(question.question, vector, chunks)
            labels = [contains_answer(c.sentence.text, question.answers) for c in ranked]
            examples.append(Example(question, terms, ranked, labels))
        components.close()
    return examples


def load_examples(dataset_path: Path, cache: Path | None) -> list[Example]:
    """`collect`'s examples, read from `cache` if it exists, else collected (and cached)."""
    if cache and cache.exists():
        examples: list[Example] = pickle.loads(cache.read_bytes())
        return examples
    examples = collect(dataset_path)
    if cache:
        cache.write_bytes(pickle.dumps(examples))
    return examples


def fit(
    rows: list[list[float]], labels: list[bool], names: tuple[str, ...]
) -> tuple[dict[str, float], float]:
    """Standardised logistic regression, folded back to weights on the raw features."""
    matrix = np.asarray(rows, dtype=np.float64)
    mean, scale = matrix.mean(axis=0), matrix.std(axis=0)
    scale[scale == 0] = 1.0
    model = LogisticRegression(C=1.0, max_iter=2000)
    model.fit((matrix - mean) / scale, np.asarray(labels))
    weights = model.coef_[0] / scale
    bias = float(model.intercept_[0] - np.sum(model.coef_[0] * mean / scale))
    return {n: round(float(w), 5) for n, w in zip(names, weights, strict=True)}, round(bias, 5)


def fit_listwise(
    groups: list[tuple[np.ndarray, np.ndarray]], names: tuple[str, ...], l2: float = 1e-2
) -> dict[str, float]:
    """Weights maximising, per group (one question's candidates), the softmax probability of
    its right candidates (`mask`): the model is used to pick one candidate, so fit that."""
    from scipy.optimize import minimize

    groups = [(m, k) for m, k in groups if k.any() and len(k) > 1]
    mean = np.concatenate([m for m, _ in groups]).mean(axis=0)
    scale = np.concatenate([m for m, _ in groups]).std(axis=0)
    scale[scale == 0] = 1.0
    scaled = [((m - mean) / scale, k) for m, k in groups]

    def loss(w: np.ndarray) -> tuple[float, np.ndarray]:
        total, gradient = l2 * float(w @ w), 2 * l2 * w
        for matrix, mask in scaled:
            logits = matrix @ w
            logits -= logits.max()
            p = np.exp(logits)
            p /= p.sum()
            right = p[mask].sum()
            total -= math.log(max(right, 1e-12))
            q = np.where(mask, p, 0.0) / max(right, 1e-12)
            gradient -= matrix.T @ (q - p)
        return total / len(scaled), gradient / len(scaled)

    result = minimize(loss, np.zeros(len(names)), jac=True, method="L-BFGS-B")
    weights = result.x / scale
    return {n: round(float(w), 5) for n, w in zip(names, weights, strict=True)}


def accuracy_at_1(examples: list[Example]) -> float:
    answerable = [e for e in examples if not e.question.is_impossible]
    return sum(bool(e.labels and e.labels[0]) for e in answerable) / max(1, len(answerable))


def rerank(examples: list[Example], weights: dict[str, float], bias: float) -> list[Example]:
    reranked = []
    for e in examples:
        ranked = rank_candidates(e.candidates, weights, bias)
        labels = [contains_answer(c.sentence.text, e.question.answers) for c in ranked]
        reranked.append(Example(e.question, e.terms, ranked, labels))
    return reranked


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dataset", type=Path)
    parser.add_argument("--cache", type=Path, help="pickle of the collected features (reused)")
    parser.add_argument("--write", action="store_true", help="write qa/models/ranker.json")
    args = parser.parse_args()
    examples = load_examples(args.dataset, args.cache)
    train = [e for e in examples if e.train]
    dev = [e for e in examples if not e.train]
    print(f"train {len(train)} questions, dev {len(dev)}")
    print(
        f"acc@1 with current weights: train {accuracy_at_1(train):.4f} dev {accuracy_at_1(dev):.4f}"
    )

    groups = [
        (
            np.asarray([[c.features.get(n, 0.0) for n in SENTENCE_FEATURES] for c in e.candidates]),
            np.asarray(e.labels, dtype=bool),
        )
        for e in train
        if not e.question.is_impossible and e.candidates
    ]
    sentence_weights, sentence_bias = fit_listwise(groups, SENTENCE_FEATURES), 0.0
    train, dev = (
        rerank(train, sentence_weights, sentence_bias),
        rerank(dev, sentence_weights, sentence_bias),
    )
    print(
        f"acc@1 fitted ranker:       train {accuracy_at_1(train):.4f} dev {accuracy_at_1(dev):.4f}"
    )
    print("sentence weights", sentence_weights, sentence_bias)

    def abstain_rows(split: list[Example]) -> tuple[list[list[float]], list[bool]]:
        rows, labels = [], []
        for e in split:
            if not e.candidates:
                continue
            features = abstain_features(e.question.question, e.terms, e.candidates)
            rows.append([features[n] for n in ABSTAIN_FEATURES])
            labels.append(not e.question.is_impossible and e.labels[0])
        return rows, labels

    abstain_weights, abstain_bias = fit(*abstain_rows(train), ABSTAIN_FEATURES)
    print("abstain weights", abstain_weights, abstain_bias)
    weights_vector = np.asarray([abstain_weights[n] for n in ABSTAIN_FEATURES])

    def balanced_threshold(split: list[Example], verbose: bool) -> tuple[float, float]:
        """The threshold with the best min(abstain precision, recall) on `split`."""
        rows, _ = abstain_rows(split)
        confidence = 1 / (1 + np.exp(-(abstain_bias + np.asarray(rows) @ weights_vector)))
        with_candidates = [e for e in split if e.candidates]
        impossible = [e.question.is_impossible for e in with_candidates]
        best = (0.0, 0.5)
        for threshold in np.arange(0.05, 0.96, 0.005):
            abstained = [bool(c < threshold) for c in confidence]
            precision, recall = precision_recall(abstained, impossible)
            # SQuAD 2.0 F1 with whole-sentence answers counted as right when they hold it.
            right = [
                (a and i) or (not a and not i and e.labels[0])
                for a, i, e in zip(abstained, impossible, with_candidates, strict=True)
            ]
            if verbose:
                print(
                    f"threshold {threshold:.3f}: abstain P {precision:.3f} R {recall:.3f} "
                    f"right {sum(right) / len(right):.3f}"
                )
            if min(precision, recall) > best[0]:
                best = (min(precision, recall), round(float(threshold), 3))
        return best

    _, threshold = balanced_threshold(train, verbose=False)
    print(f"threshold with the best min(abstain P, R) on train: {threshold:.3f}; on dev:")
    dev_best = balanced_threshold(dev, verbose=True)
    print(f"(the dev split's own best: {dev_best[1]:.3f}, min(P, R) {dev_best[0]:.3f})")
    if args.write:
        fitted = {
            "sentence_weights": sentence_weights,
            "sentence_bias": sentence_bias,
            "abstain_weights": abstain_weights,
            "abstain_bias": abstain_bias,
            "min_confidence": threshold,
        }
        with replaced_atomically(OUTPUT) as written:
            written.write_text(json.dumps(fitted, indent=2) + "\n", encoding="utf-8")
        print(f"wrote {OUTPUT} (threshold {threshold:.3f})")


if __name__ == "__main__":
    main()
