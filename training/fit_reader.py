"""Choose how the answerer uses the trained reader, on questions the reader never learnt from;
with --write, store the choice in the JSON file beside the weights (qa/models/reader.json).

    python -m training.fit_reader ../shared/data/squad2-dev-a.json \
        benchmarks/data/wikinews-2020h2-fit.json benchmarks/data/wikinews-2020h2-test.json \
        [--weights qa/models/reader.safetensors] [--cache-dir DIR] [--write]

The reader (training/train_reader.py) learnt from SQuAD 1.1's training set only. Settings are
chosen on two fit sets: dev-a's TRAIN_TITLES articles (Wikipedia, adversarial unanswerable
questions) and the news fit file; the figures printed for dev-a's other articles and the news
test file are held out. Every question is asked as `qa eval` asks it (the whole file indexed,
hybrid retrieval, the ranker's candidates), then:

- depth and rank weight: the ranker's best `depth` sentences (at most --max-depth, which keeps
  `qa ask` p95 in budget) are read; the cited one has the best reader score + rank_weight *
  ranker score. Chosen by the mean citation accuracy of the two fit sets;
- two-step reading: only the first few of those when one of them scores high enough; the
  setting that reads least within EARLY_STOP_LOSS of the mean citation accuracy of reading all;
- abstention: logistic regression (each fit set weighing the same) of "the cited sentence
  answers" on the reader's score of it, plus the ranker's answerability logit if that raises
  min(abstain precision, recall) on the news fit set by more than 0.005; the threshold is the
  one with the best min(precision, recall) on the news fit set (where the sets pull apart, the
  natural questions decide);
- the short answer is the reader's best span in the cited sentence (measured against the span
  scorer it replaced: docs/decisions/reader.md).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import pickle
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from sklearn.linear_model import LogisticRegression  # noqa: E402
from tqdm import tqdm  # noqa: E402

from qa.answering.answerer import SentenceAnswerer  # noqa: E402
from qa.answering.ranker import rank_candidates  # noqa: E402
from qa.evaluation.metrics import best_f1, contains_answer, precision_recall  # noqa: E402
from qa.models.onnx_runtime import RUNTIMES  # noqa: E402
from qa.models.reader import BUNDLED_WEIGHTS, ReaderCalibration, Reading, SpanReader  # noqa: E402
from training.fit_answer_model import Example, load_examples  # noqa: E402

MAX_DEPTH = 16
DEPTHS = (4, 6, 8, 12, 16)
RANK_WEIGHTS = (0.0, 0.05, 0.1, 0.2, 0.35, 0.5, 1.0)
FIRST_DEPTHS = (2, 3, 4, 6)
STOP_SCORES = (3.0, 4.0, 5.0, 6.0, 7.0, 8.0)
# Reading fewer sentences may cost this much mean citation accuracy on the fit sets: none, since
# they are small (a question is 0.003-0.007) and a looser bound chose settings that lost more
# on the held-out sets.
EARLY_STOP_LOSS = 0.0


def trained_on(example: Example, titles: frozenset[str]) -> bool:
    return example.question.article_id.split("#")[0] in titles


def calibration_examples(
    dev_a: Sequence[Example], reader_trained_on: frozenset[str]
) -> list[Example]:
    """dev-a's questions that fit the calibration: on TRAIN_TITLES, unseen by the reader."""
    return [e for e in dev_a if e.train and not trained_on(e, reader_trained_on)]


@dataclass
class Read:
    """One question's candidates in the ranker's order, the reader's view of the first
    MAX_DEPTH, and the ranker's answerability logit."""

    example: Example
    readings: list[Reading]
    best: list[tuple[float, int, int]]
    base_logit: float

    @property
    def impossible(self) -> bool:
        return self.example.question.is_impossible

    def top(self, depth: Depth, rank_weight: float) -> int:
        head = self.example.candidates[: depth.of(self)]
        scores = [self.best[i][0] + rank_weight * c.score for i, c in enumerate(head)]
        return int(np.argmax(scores))

    def right(self, i: int) -> bool:
        return not self.impossible and self.example.labels[i]

    def span(self, i: int) -> str:
        _, start, end = self.best[i]
        return self.example.candidates[i].sentence.text[start:end]


@dataclass(frozen=True)
class Depth:
    """How deep the reader reads: `full` sentences, or only the `first` when one of those has a
    best-span score of `stop` or more (SentenceAnswerer.read)."""

    full: int
    first: int = 0
    stop: float = 0.0

    def of(self, read: Read) -> int:
        """How many of the question's candidates are read."""
        first = read.best[: self.first]
        if (
            0 < self.first < min(self.full, len(read.best))
            and max(b[0] for b in first) >= self.stop
        ):
            return self.first
        return self.full

    def mean_read(self, reads: Sequence[Read]) -> float:
        return float(np.mean([min(self.of(r), len(r.best)) for r in reads]))


def ranked(examples: Sequence[Example], answerer: SentenceAnswerer) -> list[Example]:
    """The collected candidates in the order `answerer`'s ranker puts them."""
    result = []
    for e in examples:
        order = rank_candidates(
            e.candidates, answerer.sentence_weights, answerer.model.sentence_bias
        )
        labels = [contains_answer(c.sentence.text, e.question.answers) for c in order]
        result.append(Example(e.question, e.terms, order, labels))
    return result


def news_examples(paths: Sequence[Path], cache: Path | None) -> list[list[Example]]:
    """Each news file's questions, asked of one index of their (shared) articles."""
    documents = [json.loads(path.read_text(encoding="utf-8")) for path in paths]
    owner = {
        qa["id"]: number
        for number, document in enumerate(documents)
        for entry in document["data"]
        for p in entry["paragraphs"]
        for qa in p["qas"]
    }
    for other in documents[1:]:
        for entry, more in zip(documents[0]["data"], other["data"], strict=True):
            entry["paragraphs"][0]["qas"] += more["paragraphs"][0]["qas"]
    with tempfile.TemporaryDirectory() as folder:
        merged = Path(folder) / "news.json"
        merged.write_text(json.dumps(documents[0]), encoding="utf-8")
        examples = load_examples(merged, cache)
    return [[e for e in examples if owner[e.question.id] == n] for n in range(len(paths))]


def first_stage_recall(examples: Sequence[Example], depth: int) -> float:
    """How often a sentence holding a gold answer is among the first `depth` (answerable)."""
    answerable = [e for e in examples if not e.question.is_impossible]
    return float(np.mean([any(e.labels[:depth]) for e in answerable]))


def read_examples(
    examples: Sequence[Example], reader: SpanReader, answerer: SentenceAnswerer, cache: Path | None
) -> list[Read]:
    if cache is not None and cache.is_file():
        reads: list[Read] = pickle.loads(cache.read_bytes())
        return reads
    reads = []
    for e in tqdm(examples, desc="reading"):
        if not e.candidates:
            continue
        head = [c.sentence.text for c in e.candidates[:MAX_DEPTH]]
        readings = reader.read(e.question.question, head)
        base = answerer.abstain_logit(e.question.question, e.terms, e.candidates)
        reads.append(Read(e, readings, [r.best_span() for r in readings], base))
    if cache is not None:
        cache.write_bytes(pickle.dumps(reads))
    return reads


def citation_accuracy(reads: Sequence[Read], depth: Depth, rank_weight: float) -> float:
    answerable = [r for r in reads if not r.impossible]
    return float(np.mean([r.right(r.top(depth, rank_weight)) for r in answerable]))


def early_stop(fit_sets: Sequence[Sequence[Read]], full: Depth, weight: float) -> Depth:
    """The two-step reading that reads least on the fit sets while keeping their mean citation
    accuracy within EARLY_STOP_LOSS of reading all `full.full` sentences."""
    accuracy = float(np.mean([citation_accuracy(reads, full, weight) for reads in fit_sets]))
    best, least = full, float(np.mean([full.mean_read(reads) for reads in fit_sets]))
    print("two-step reading on the fit sets (mean citation accuracy, sentences read):")
    for first in FIRST_DEPTHS:
        if first >= full.full:
            continue
        for stop in STOP_SCORES:
            depth = Depth(full.full, first, stop)
            mean = float(np.mean([citation_accuracy(reads, depth, weight) for reads in fit_sets]))
            read = float(np.mean([depth.mean_read(reads) for reads in fit_sets]))
            print(f"  first {first} stop {stop:.1f}: {mean:.4f} reading {read:.2f}")
            if mean >= accuracy - EARLY_STOP_LOSS and read < least:
                best, least = depth, read
    print(f"chosen {best} (all {full.full} at once: {accuracy:.4f})")
    return best


def best_threshold(
    confidences: Sequence[Sequence[float]], impossible: Sequence[Sequence[bool]]
) -> tuple[float, float]:
    """The threshold with the best worst min(abstain precision, recall) over the sets."""
    best = (-1.0, 0.5)
    for threshold in np.arange(0.02, 0.98, 0.005):
        worst = min(
            min(precision_recall([c < threshold for c in conf], imp))
            for conf, imp in zip(confidences, impossible, strict=True)
        )
        if worst > best[0]:
            best = (worst, round(float(threshold), 3))
    return best[1], best[0]


Features = Callable[[Read, int], list[float]]


def abstain_rows(
    reads: Sequence[Read], depth: Depth, weight: float, features: Features
) -> tuple[np.ndarray, np.ndarray]:
    rows, labels = [], []
    for r in reads:
        i = r.top(depth, weight)
        rows.append(features(r, i))
        labels.append(r.right(i))
    return np.asarray(rows), np.asarray(labels)


def fit_abstention(
    fit_sets: Sequence[Sequence[Read]], depth: Depth, weight: float, features: Features
) -> LogisticRegression:
    """Each fit set weighs the same in total, however many questions it has."""
    matrices, labels, weights = [], [], []
    for reads in fit_sets:
        rows, right = abstain_rows(reads, depth, weight, features)
        matrices.append(rows)
        labels.append(right)
        weights.append(np.full(len(rows), 1.0 / len(rows)))
    model = LogisticRegression(C=1.0, max_iter=2000)
    model.fit(np.vstack(matrices), np.concatenate(labels), sample_weight=np.concatenate(weights))
    return model


def figures(
    reads: Sequence[Read],
    depth: Depth,
    weight: float,
    model: LogisticRegression,
    features: Features,
    threshold: float,
    short: Callable[[Read, int], str],
) -> dict[str, float]:
    rows, _ = abstain_rows(reads, depth, weight, features)
    confidence = model.predict_proba(rows)[:, 1]
    abstained = [bool(c < threshold) for c in confidence]
    precision, recall = precision_recall(abstained, [r.impossible for r in reads])
    right, f1 = [], []
    for r, abstain in zip(reads, abstained, strict=True):
        if r.impossible:
            continue
        i = r.top(depth, weight)
        right.append(r.right(i))
        f1.append(0.0 if abstain else best_f1(short(r, i), r.example.question.answers))
    return {
        "citation_accuracy_at_1": round(float(np.mean(right)), 4),
        "answer_f1": round(float(np.mean(f1)), 4),
        "abstain_precision": round(precision, 4),
        "abstain_recall": round(recall, 4),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dev_a", type=Path, help="SQuAD 2.0 dev-a")
    parser.add_argument("news_fit", type=Path)
    parser.add_argument("news_test", type=Path)
    parser.add_argument(
        "--news-extra",
        type=Path,
        action="append",
        default=[],
        help="a news file (the news fit file's articles) of questions the reader did not learn "
        "from, joined to the news fit set for every choice",
    )
    parser.add_argument("--weights", type=Path, default=BUNDLED_WEIGHTS)
    parser.add_argument("--cache-dir", type=Path, help="keeps candidates and readings")
    parser.add_argument(
        "--runtime", choices=RUNTIMES, default="onnx", help="the reader's answer.reader_runtime"
    )
    parser.add_argument(
        "--max-depth", type=int, default=8, help="deepest reading that keeps p95 in budget"
    )
    parser.add_argument("--write", action="store_true", help="write the calibration JSON")
    parser.add_argument(
        "--type-penalty", type=float, default=0.5, help="the ranker's answer.missing_type_penalty"
    )
    parser.add_argument(
        "--held-out",
        action="store_true",
        help="also read and report the held-out sets (qa eval gives their figures too)",
    )
    parser.add_argument(
        "--reader-trained-on",
        default="",
        help="comma-separated dev-a titles the reader learnt from (a second stage of training, "
        "docs/training.md), left out of the fit; the shipped SQuAD 1.1 reader learnt from none",
    )
    parser.add_argument(
        "--first-stage-only", action="store_true", help="print the ranker's recall@k and stop"
    )
    args = parser.parse_args()
    reader_trained_on = frozenset(filter(None, args.reader_trained_on.split(",")))
    if args.cache_dir:
        args.cache_dir.mkdir(parents=True, exist_ok=True)

    def cached(name: str) -> Path | None:
        return args.cache_dir / name if args.cache_dir else None

    answerer = SentenceAnswerer(0.0, None, missing_type_penalty=args.type_penalty)
    placeholder = ReaderCalibration(MAX_DEPTH, 0.0, 1.0, 0.0, 0.0)
    reader = SpanReader(weights=args.weights, calibration=placeholder, runtime=args.runtime)
    tag = f"{args.weights.stem}-{args.runtime}"
    sets: dict[str, list[Read]] = {}
    dev_a = load_examples(args.dev_a, cached("dev-a.pkl"))
    news_paths = [args.news_fit, args.news_test, *args.news_extra]
    # The candidates depend on every news file indexed together: the cache is named by them.
    extra_names = "".join(f"+{path.stem}" for path in args.news_extra)
    news_fit, news_test, *news_extra = news_examples(news_paths, cached(f"news{extra_names}.pkl"))
    # More natural questions the reader never learnt from: choices are made on them with the
    # news fit set, as one set (the news fit set alone has 27 unanswerable questions).
    fit_file_ids = {e.question.id for e in news_fit}
    news_fit = news_fit + [e for extra in news_extra for e in extra]
    print("first stage: recall@k of the answering sentence (news fit, dev-a fit)")
    for label, penalty in (("ranker, type penalty 0.5", 0.5), ("ranker, no type penalty", 0.0)):
        judge = SentenceAnswerer(0.0, None, missing_type_penalty=penalty)
        pair = [
            ranked(news_fit, judge),
            ranked(calibration_examples(dev_a, reader_trained_on), judge),
        ]
        figures_at = {k: [round(first_stage_recall(x, k), 4) for x in pair] for k in DEPTHS}
        print(f"  {label}: {figures_at}")
    for label, feature in (("cosine alone", "cosine"), ("retrieval order", "chunk_score")):
        pair = [
            [
                Example(
                    e.question,
                    e.terms,
                    order,
                    [contains_answer(c.sentence.text, e.question.answers) for c in order],
                )
                for e in split
                for order in [sorted(e.candidates, key=lambda c: -c.features[feature])]
            ]
            for split in (news_fit, calibration_examples(dev_a, reader_trained_on))
        ]
        figures_at = {k: [round(first_stage_recall(x, k), 4) for x in pair] for k in DEPTHS}
        print(f"  {label}: {figures_at}")
    if args.first_stage_only:
        return
    dev_a, news_fit, news_test = (
        ranked(dev_a, answerer),
        ranked(news_fit, answerer),
        ranked(news_test, answerer),
    )
    tag = f"{tag}-p{args.type_penalty}"
    report_only = [
        (
            "dev-a reader-trained",
            [e for e in dev_a if e.train and trained_on(e, reader_trained_on)],
        ),
        ("dev-a held-out", [e for e in dev_a if not e.train]),
        ("news test", news_test),
    ]
    for name, examples in [
        ("dev-a fit", calibration_examples(dev_a, reader_trained_on)),
        ("news fit", news_fit),
        *(report_only if args.held_out else []),
    ]:
        if not examples:
            continue
        key = name.replace(" ", "-")
        cache = cached(f"reads-{tag}-{key}-{len(examples)}.pkl")  # a set's size changes its name
        sets[name] = read_examples(examples, reader, answerer, cache)
    if args.held_out and news_extra:
        alone = [r for r in sets["news fit"] if r.example.question.id in fit_file_ids]
        sets["news fit file alone"] = alone
    fit_sets = [sets["news fit"], sets["dev-a fit"]]

    print("citation accuracy on the fit sets (news, dev-a) by depth and rank weight:")
    scores: dict[tuple[int, float], tuple[float, float]] = {}
    for size in DEPTHS:
        for weight in RANK_WEIGHTS:
            accuracy = [citation_accuracy(reads, Depth(size), weight) for reads in fit_sets]
            scores[(size, weight)] = (float(np.mean(accuracy)), accuracy[0])
            on_news, on_dev_a = accuracy
            print(f"  depth {size:2d} weight {weight:.2f}: news {on_news:.4f} dev-a {on_dev_a:.4f}")
    affordable = [key for key in scores if key[0] <= args.max_depth]
    full, weight = max(affordable, key=lambda k: scores[k])
    ranker_alone = [citation_accuracy(reads, Depth(1), 0.0) for reads in fit_sets]
    print(f"chosen depth {full}, rank weight {weight}; ranker alone: {ranker_alone}")
    depth = early_stop(fit_sets, Depth(full), weight)

    def reader_only(r: Read, i: int) -> list[float]:
        return [r.best[i][0]]

    def with_ranker(r: Read, i: int) -> list[float]:
        return [r.best[i][0], r.base_logit]

    def reader_span(r: Read, i: int) -> str:
        return r.span(i)

    chosen: tuple[Features, LogisticRegression, float] | None = None
    candidates: list[tuple[str, Features]] = [
        ("reader score", reader_only),
        ("+ ranker logit", with_ranker),
    ]
    for label, features in candidates:
        model = fit_abstention(fit_sets, depth, weight, features)
        # Where the sets pull apart the natural questions decide: the threshold is the news fit
        # set's balance point (dev-a's adversarial questions would want a higher one).
        news = sets["news fit"]
        confidences = [model.predict_proba(abstain_rows(news, depth, weight, features)[0])[:, 1]]
        threshold, worst = best_threshold(confidences, [[r.impossible for r in news]])
        print(f"abstention from {label}: threshold {threshold}, min(P, R) on news fit {worst:.4f}")
        if chosen is None or worst > chosen[2] + 0.005:
            chosen = (features, model, worst)
            chosen_threshold = threshold
    assert chosen is not None
    features, model, _ = chosen
    coefficients = list(model.coef_[0]) + [0.0]
    calibration = ReaderCalibration(
        depth.full,
        weight,
        round(float(coefficients[0]), 5),
        round(float(coefficients[1]), 5),
        round(float(model.intercept_[0]), 5),
        depth.first,
        depth.stop,
    )
    print(f"calibration {calibration}, threshold {chosen_threshold}")
    for name, reads in sets.items():
        result = figures(reads, depth, weight, model, features, chosen_threshold, reader_span)
        result["sentences_read"] = round(depth.mean_read(reads), 2)
        print(f"{name} ({len(reads)} questions): {result}")
    if args.write:
        path = args.weights.with_suffix(".json")
        if path.exists():  # keep what fit_abstention.py chose (type penalty, decision)
            reading = {
                f.name: getattr(calibration, f.name) for f in dataclasses.fields(calibration)
            }
            del reading["type_penalty"], reading["fitting_span_margin"], reading["abstention"]
            calibration = dataclasses.replace(ReaderCalibration.load(path), **reading)
        calibration.write(path)
        print(f"wrote {path}; now refit the decision: training/fit_abstention.py --write")


if __name__ == "__main__":
    main()
