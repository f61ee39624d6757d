"""Train the extractive reader (qa/models/reader.py) on SQuAD questions; resumable, seeded.

    python -m training.train_reader TRAIN.json[:N]... --work /tmp/qa-reader \
        [--negatives 1] [--cross-paragraph] [--unanswerable 0] [--start-from WEIGHTS] \
        [--epochs 1] [--seed 0] [--eval SQUAD2.json] [--out qa/models/reader.safetensors] \
        [--teacher WEIGHTS] [--keep-layers 0,2,4]

Each TRAIN.json is SQuAD 1.1 or 2.0, for example the SQuAD 1.1 training set (the first stage)
and then, --start-from its weights, SQuAD 2.0 questions with --unanswerable plus some SQuAD 1.1
questions again so that the first stage is not forgotten (the second stage; docs/training.md). The
sentence pairs are made once and kept in --work with the checkpoints; run the same command
again after a crash or a kill and it resumes. --out gets the weights that changed (float16)
when training ends; the answerer's calibration is separate
(training/fit_reader.py). --eval scores the trained reader on a SQuAD 2.0 file with each
question's own paragraph given (see `gold_paragraph_figures`). --keep-layers with --start-from
and --teacher trains a smaller student (fewer encoder layers, faster reading) to read as the
reader it starts from does (docs/decisions/reader.md: tried, not shipped).
"""

from __future__ import annotations

import argparse
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch  # noqa: E402
from tqdm import tqdm  # noqa: E402

from qa.evaluation.metrics import best_f1, precision_recall  # noqa: E402
from qa.evaluation.squad import load_squad  # noqa: E402
from qa.ingest.sentences import SpacySplitter  # noqa: E402
from qa.models.reader import BASE_MODEL, SpanReader, load_reader  # noqa: E402
from qa.store.files import replaced_atomically  # noqa: E402
from training.reader_pairs import (  # noqa: E402
    TrainingPair,
    encode_pairs,
    paragraph_sentences,
    squad_pairs,
)
from training.reader_training import Trainer, TrainingSettings, load_trainable, save_weights  # noqa: E402


@dataclass(frozen=True)
class Source:
    """A training file and how many of its questions to learn from (None: all)."""

    path: Path
    questions: int | None

    @classmethod
    def parse(cls, value: str) -> Source:
        path, _, count = value.partition(":")
        if count and not count.isdigit():
            raise argparse.ArgumentTypeError(f"{value}: expected FILE or FILE:QUESTIONS")
        return cls(Path(path), int(count) if count else None)


def pairs_key(source: Source, args: argparse.Namespace) -> str:
    return (
        f"{source.path.stem}-q{source.questions}-n{args.negatives}"
        f"-x{int(args.cross_paragraph)}-u{args.unanswerable}-s{args.seed}"
    )


def run_key(args: argparse.Namespace) -> str:
    sources = "+".join(pairs_key(source, args) for source in args.datasets)
    start = f"-from-{args.start_from.stem}" if args.start_from else ""
    return sources + start


def cached_pairs(source: Source, args: argparse.Namespace) -> list[TrainingPair]:
    """One file's training pairs, made once per setting and kept in --work."""
    path = args.work / f"pairs-{pairs_key(source, args)}.jsonl"
    if path.is_file():
        with path.open(encoding="utf-8") as lines:
            rows = [json.loads(line) for line in lines]
        return [TrainingPair(q, s, tuple(a) if a else None) for q, s, a in rows]
    document = json.loads(source.path.read_text(encoding="utf-8"))
    args.work.mkdir(parents=True, exist_ok=True)
    split = args.work / f"sentences-{source.path.stem}.json"
    if split.is_file():
        spans = json.loads(split.read_text(encoding="utf-8"))
    else:
        print(f"splitting {source.path.name} into sentences ...", flush=True)
        spans = paragraph_sentences(document, SpacySplitter(entities=False, batch_size=256))
        with replaced_atomically(split) as temporary:
            temporary.write_text(json.dumps(spans), encoding="utf-8")
    pairs = squad_pairs(
        document,
        spans,
        args.negatives,
        args.cross_paragraph,
        source.questions,
        args.seed,
        progress=lambda items: tqdm(items, desc=f"pairs {source.path.name}"),
        unanswerable=args.unanswerable,
    )
    with replaced_atomically(path) as temporary, temporary.open("w", encoding="utf-8") as out:
        for p in pairs:
            out.write(json.dumps([p.question, p.sentence, p.answer]) + "\n")
    return pairs


def gold_paragraph_figures(
    reader: SpanReader, dataset: Path, limit: int | None
) -> dict[str, float]:
    """Each question read against every sentence of its own paragraph: how often the sentence
    with the best span score holds a gold answer, span F1 there and with the right sentence
    given, and abstain P/R at the no-answer threshold 0 (answerable iff the best span beats
    no-answer) over all questions."""
    squad = load_squad(dataset).limited(limit)
    splitter = SpacySplitter(entities=False)
    texts = {a.id: a.text for a in squad.articles}
    ids = list(texts)
    sentences = {
        i: [texts[i][s.start : s.end] for s in found]
        for i, found in zip(ids, splitter.split([texts[i] for i in ids]), strict=True)
    }
    picked_right, picked_f1, given_f1, abstained, impossible = [], [], [], [], []
    for question in tqdm(squad.questions, desc="gold-paragraph eval"):
        candidates = sentences[question.article_id]
        readings = reader.read(question.question, candidates)
        spans = [r.best_span() for r in readings]
        top = int(np.argmax([s[0] for s in spans]))
        abstained.append(spans[top][0] < 0)
        impossible.append(question.is_impossible)
        if question.is_impossible:
            continue
        score, start, end = spans[top]
        holding = [
            i for i, c in enumerate(candidates) if any(a and a in c for a in question.answers)
        ]
        picked_right.append(top in holding)
        picked_f1.append(best_f1(candidates[top][start:end], question.answers))
        if holding:
            _, start, end = spans[holding[0]]
            given_f1.append(best_f1(candidates[holding[0]][start:end], question.answers))
    precision, recall = precision_recall(abstained, impossible)
    return {
        "questions": len(squad.questions),
        "right_sentence_picked": round(float(np.mean(picked_right)), 4),
        "span_f1_on_picked": round(float(np.mean(picked_f1)), 4),
        "span_f1_right_sentence_given": round(float(np.mean(given_f1)), 4),
        "abstain_precision_at_0": round(precision, 4),
        "abstain_recall_at_0": round(recall, 4),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "datasets",
        nargs="+",
        type=Source.parse,
        metavar="FILE[:QUESTIONS]",
        help="SQuAD 1.1/2.0 JSON to learn from; :N learns from N random questions of it",
    )
    parser.add_argument("--work", type=Path, required=True, help="pairs and checkpoints")
    parser.add_argument("--out", type=Path, help="where to write the weights at the end")
    parser.add_argument("--negatives", type=int, default=1, help="no-answer sentences a question")
    parser.add_argument(
        "--cross-paragraph", action="store_true", help="one negative from another paragraph"
    )
    parser.add_argument(
        "--unanswerable",
        type=int,
        default=0,
        help="no-answer sentences per SQuAD 2.0 unanswerable question (0: skip those questions)",
    )
    parser.add_argument(
        "--start-from", type=Path, help="continue from these reader weights (a second stage)"
    )
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--learning-rate", type=float, default=8e-5)
    parser.add_argument("--max-tokens", type=int, default=128)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--bfloat16", action="store_true", help="bfloat16 autocast (faster on AVX-512 BF16 CPUs)"
    )
    parser.add_argument(
        "--teacher",
        type=Path,
        help="reader weights whose readings the model also learns to match (distillation)",
    )
    parser.add_argument(
        "--keep-layers",
        type=lambda value: tuple(int(i) for i in value.split(",")),
        help="train a smaller student: only these encoder layers of the start (e.g. 0,2,4); "
        "use with --start-from and --teacher",
    )
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--eval", type=Path, help="SQuAD 2.0 file for gold-paragraph figures")
    parser.add_argument("--eval-limit", type=int, help="first N questions of --eval")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    started = time.perf_counter()
    pairs = [pair for source in args.datasets for pair in cached_pairs(source, args)]
    model, tokenizer = load_trainable(BASE_MODEL, args.start_from, args.keep_layers)
    settings = TrainingSettings(
        epochs=args.epochs,
        batch_size=args.batch_size,
        learning_rate=args.learning_rate,
        max_tokens=args.max_tokens,
        seed=args.seed,
        bfloat16=args.bfloat16,
        teacher=str(args.teacher or ""),
        layers=args.keep_layers or (),
    )
    encoded = encode_pairs(tokenizer, pairs, settings.max_tokens)
    answering = sum(p.start > 0 for p in encoded)
    print(f"{len(encoded)} pairs ({answering} answering), {len(pairs) - len(encoded)} dropped")
    run = args.work / (
        f"run-{run_key(args)}-e{settings.epochs}-b{settings.batch_size}"
        f"-lr{settings.learning_rate}-t{settings.max_tokens}{'-bf16' if settings.bfloat16 else ''}"
        f"{'-taught' if args.teacher else ''}"
        f"{'-layers' + '.'.join(map(str, settings.layers)) if settings.layers else ''}"
    )
    teacher = load_reader(BASE_MODEL, args.teacher)[0] if args.teacher else None
    trainer = Trainer(model, encoded, settings, run, tokenizer.pad_token_id, teacher)
    losses = trainer.train()
    weights = args.out or run / "reader.safetensors"
    save_weights(model, weights)
    minutes = (time.perf_counter() - started) / 60
    tail = losses[-200:] or [float("nan")]
    print(
        f"wrote {weights} ({weights.stat().st_size / 1e6:.1f} MB) after {minutes:.1f} min; "
        f"last steps' mean loss {np.mean(tail):.3f}"
    )
    if args.eval:
        # Judged as it will be served, through its float32 graph, exported beside the run.
        reader = SpanReader(BASE_MODEL, weights, runtime="onnx", cache_dir=run)
        print(json.dumps(gold_paragraph_figures(reader, args.eval, args.eval_limit), indent=2))


if __name__ == "__main__":
    main()
