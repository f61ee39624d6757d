"""Fine-tuning the extractive reader (qa/models/reader.py) on the pairs training/reader_pairs.py
makes.

Training is deterministic for a seed (the batch order is drawn once; dropout's RNG state is
checkpointed) and resumable: a checkpoint every `checkpoint_every` steps holds the trainable
weights, the optimiser, the schedule and the RNG, written atomically, so a killed run resumes
where it stopped and ends with the same weights as an uninterrupted one.
"""

from __future__ import annotations

import dataclasses
import json
import random
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from qa.models.onnx_runtime import TOKENIZER_INPUTS
from qa.models.reader import FROZEN_SUFFIX, keep_layers, load_base, load_reader
from qa.store.files import replaced_atomically
from training.reader_pairs import EncodedPair


@dataclass(frozen=True)
class TrainingSettings:
    epochs: int = 1
    batch_size: int = 32
    learning_rate: float = 8e-5
    warmup_share: float = 0.1
    max_tokens: int = 128
    seed: int = 0
    checkpoint_every: int = 250
    # bfloat16 autocast: about 1.8x faster on CPUs with AVX-512 BF16; the weights and the
    # optimiser stay float32.
    bfloat16: bool = False
    # Weights of a teacher reader whose start and end distributions the model also learns to
    # match (the Trainer is given the loaded teacher): a smaller student then keeps that
    # reader's choices, not only the labels' (named here for the checkpoint check).
    teacher: str = ""
    # The encoder layers the model kept of its start (load_trainable's `layers`; empty: all),
    # named here for the checkpoint check.
    layers: tuple[int, ...] = ()


def batch_order(
    encoded: Sequence[EncodedPair], batch_size: int, epochs: int, seed: int
) -> list[list[int]]:
    """Every epoch's batches, drawn once for the seed: pairs of similar length go together
    (less padding, faster steps), and the batches are shuffled."""
    generator = random.Random(seed)
    order: list[list[int]] = []
    for _ in range(epochs):
        indices = list(range(len(encoded)))
        generator.shuffle(indices)
        pool = batch_size * 50
        batches = []
        for first in range(0, len(indices), pool):
            block = sorted(indices[first : first + pool], key=lambda i: len(encoded[i].input_ids))
            batches += [block[i : i + batch_size] for i in range(0, len(block), batch_size)]
        generator.shuffle(batches)
        order += batches
    return order


def load_trainable(
    base_model: str, start_from: Path | None = None, layers: Sequence[int] | None = None
) -> tuple[Any, Any]:
    """The base encoder with frozen word embeddings (they stay the package's, so only the other
    weights need shipping) and a fresh question-answering head, or the reader `start_from`
    (weights of an earlier run, for a second stage of training). With `layers`, only those of
    the encoder's layers are kept: a smaller student, taught by the reader it starts from."""
    if start_from is None:
        model, tokenizer = load_base(base_model)
    else:
        model, tokenizer = load_reader(base_model, start_from)
    if layers is not None:
        keep_layers(model, layers)
    for name, parameter in model.named_parameters():
        if name.endswith(FROZEN_SUFFIX):
            parameter.requires_grad = False
    return model, tokenizer


def trainable_state(model: Any) -> dict[str, Any]:
    return {
        name: tensor.detach().clone()
        for name, tensor in model.state_dict().items()
        if not name.endswith(FROZEN_SUFFIX)
    }


def save_weights(model: Any, path: Path) -> None:
    """The weights fine-tuning changed, in float16 (the frozen word embeddings are left out)."""
    import torch
    from safetensors.torch import save_file

    tuned = {name: t.to(torch.float16).contiguous() for name, t in trainable_state(model).items()}
    path.parent.mkdir(parents=True, exist_ok=True)
    with replaced_atomically(path) as temporary:
        save_file(tuned, str(temporary))


class Trainer:
    """Runs the fine-tuning of `model` over `encoded` with checkpoints in `folder` (None: no
    checkpoints). `train()` resumes from the folder's checkpoint when its settings match and
    refuses one written with other settings or data, rather than mixing two runs."""

    def __init__(
        self,
        model: Any,
        encoded: Sequence[EncodedPair],
        settings: TrainingSettings,
        folder: Path | None = None,
        pad_id: int = 0,
        teacher: Any = None,
    ) -> None:
        if (teacher is not None) != bool(settings.teacher):
            raise ValueError("settings.teacher names the teacher model given, and only then")
        self.model = model
        self.teacher = teacher.eval() if teacher is not None else None
        self.encoded = encoded
        self.settings = settings
        self.folder = folder
        self.pad_id = pad_id
        self.batches = batch_order(encoded, settings.batch_size, settings.epochs, settings.seed)

    def _fingerprint(self) -> dict[str, Any]:
        return {"settings": dataclasses.asdict(self.settings), "pairs": len(self.encoded)}

    def _collate(self, batch: Sequence[int]) -> dict[str, Any]:
        import torch

        rows = [self.encoded[i] for i in batch]
        width = max(len(r.input_ids) for r in rows)
        ids = torch.full((len(rows), width), self.pad_id, dtype=torch.long)
        types = torch.zeros((len(rows), width), dtype=torch.long)
        mask = torch.zeros((len(rows), width), dtype=torch.long)
        for i, r in enumerate(rows):
            ids[i, : len(r.input_ids)] = torch.tensor(r.input_ids)
            types[i, : len(r.token_type_ids)] = torch.tensor(r.token_type_ids)
            mask[i, : len(r.input_ids)] = 1
        return {
            "input_ids": ids,
            "token_type_ids": types,
            "attention_mask": mask,
            "start_positions": torch.tensor([r.start for r in rows]),
            "end_positions": torch.tensor([r.end for r in rows]),
        }

    def train(self, progress: bool = True, stop_after: int | None = None) -> list[float]:
        """Train to the end (or `stop_after` steps, for tests of resuming); the loss of each
        step taken in this call."""
        import torch
        from tqdm import tqdm

        settings = self.settings
        torch.manual_seed(settings.seed)
        parameters = [p for p in self.model.parameters() if p.requires_grad]
        optimizer = torch.optim.AdamW(parameters, lr=settings.learning_rate, weight_decay=0.01)
        steps = len(self.batches)
        warmup = max(1.0, settings.warmup_share * steps)
        scheduler = torch.optim.lr_scheduler.LambdaLR(
            optimizer, lambda step: min(1.0, (step + 1) / warmup) * max(0.0, (steps - step) / steps)
        )
        done = self._resume(optimizer, scheduler)
        self.model.train()
        losses: list[float] = []
        last = steps if stop_after is None else min(steps, done + stop_after)
        with tqdm(
            total=steps, initial=done, desc="train reader", disable=not progress, smoothing=0.05
        ) as bar:
            for step in range(done, last):
                with torch.autocast("cpu", dtype=torch.bfloat16, enabled=settings.bfloat16):
                    loss = self._loss(self._collate(self.batches[step]))
                loss.backward()
                torch.nn.utils.clip_grad_norm_(parameters, 1.0)
                optimizer.step()
                scheduler.step()
                optimizer.zero_grad()
                losses.append(float(loss.item()))
                bar.update()
                if step % 10 == 0:
                    recent = losses[-50:]
                    bar.set_postfix(loss=f"{sum(recent) / len(recent):.3f}")
                if (step + 1) % settings.checkpoint_every == 0 or step + 1 == last:
                    self._checkpoint(step + 1, optimizer, scheduler)
        self.model.eval()
        return losses

    def _loss(self, batch: dict[str, Any]) -> Any:
        """The labels' loss, plus the distance to the teacher's readings when there is one."""
        import torch

        output = self.model(**batch)
        if self.teacher is None:
            return output.loss
        inputs = {name: batch[name] for name in TOKENIZER_INPUTS}
        with torch.no_grad():
            taught = self.teacher(**inputs)
        padding = batch["attention_mask"] == 0
        distance = sum(
            torch.nn.functional.kl_div(
                torch.log_softmax(mine.float().masked_fill(padding, -1e4), dim=-1),
                torch.log_softmax(theirs.float().masked_fill(padding, -1e4), dim=-1),
                log_target=True,
                reduction="batchmean",
            )
            for mine, theirs in (
                (output.start_logits, taught.start_logits),
                (output.end_logits, taught.end_logits),
            )
        )
        return output.loss + distance / 2

    def _checkpoint(self, done: int, optimizer: Any, scheduler: Any) -> None:
        if self.folder is None:
            return
        import torch

        self.folder.mkdir(parents=True, exist_ok=True)
        state = {
            "done": done,
            "fingerprint": self._fingerprint(),
            "model": trainable_state(self.model),
            "optimizer": optimizer.state_dict(),
            "scheduler": scheduler.state_dict(),
            "rng": torch.get_rng_state(),
        }
        with replaced_atomically(self.folder / "checkpoint.pt") as temporary:
            torch.save(state, temporary)

    def _resume(self, optimizer: Any, scheduler: Any) -> int:
        if self.folder is None or not (self.folder / "checkpoint.pt").is_file():
            return 0
        import torch

        state = torch.load(self.folder / "checkpoint.pt", weights_only=False)
        if state["fingerprint"] != self._fingerprint():
            raise ValueError(
                f"{self.folder} holds a checkpoint of another training run "
                f"({json.dumps(state['fingerprint'])}); use another folder or delete it"
            )
        self.model.load_state_dict(state["model"], strict=False)
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        torch.set_rng_state(state["rng"])
        return int(state["done"])
