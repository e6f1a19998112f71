"""Fine-tune the classifier, fit its temperature, score it on held-out data.

Class-balanced loss weights because attacks are rare; temperature scaling on a validation slice
so confidence is calibrated; tqdm progress bars so a nightly job's log shows where it is.
"""

from __future__ import annotations

import math
import random
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from secustream.analyzer.model.classifier import LABELS, ThreatClassifier, build_model, load_tokenizer, pick_device
from secustream.analyzer.model.gate import DistributionGate
from secustream.training.dataset import Example
from secustream.training.metrics import accuracy, classification_report, macro_f1


@dataclass
class TrainConfig:
    arch: str = "student"
    init: str = "minilm"
    epochs: int = 3
    batch_size: int = 64
    lr: float | None = None  # default: 5e-5 for minilm, 2e-3 for students
    max_length: int = 64
    seed: int = 0
    device: str = "auto"
    progress: bool = True
    max_seconds: float | None = None  # stop early (keeps what it learned) on slow machines
    dedupe: bool = False  # merge identical (text, label) pairs (faster epochs; fewer steps hurt accuracy)
    freeze_embeddings: bool = False  # keep the (MiniLM-projected) word embeddings: fewer weights to update
    on_progress: Callable[[int, int], None] | None = None  # (batches done, total) after every batch


@dataclass
class EvalResult:
    macro_f1: float
    accuracy: float
    per_class: dict[str, dict[str, float]] = field(default_factory=dict)
    n: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {"macro_f1": self.macro_f1, "accuracy": self.accuracy, "per_class": self.per_class, "n": self.n}


def evaluate_classifier(clf: ThreatClassifier, examples: Sequence[Example]) -> EvalResult:
    preds = [p.label for p in clf.predict([e.text for e in examples])]
    truth = [e.label for e in examples]
    report = classification_report(truth, preds)
    return EvalResult(macro_f1(truth, preds), accuracy(truth, preds),
                      {k: {"precision": v.precision, "recall": v.recall, "f1": v.f1, "support": v.support}
                       for k, v in report.items()}, len(examples))


def majority_baseline(train: Sequence[Example], held_out: Sequence[Example]) -> EvalResult:
    """Always predict the most frequent training class: the floor any model must beat."""
    top = Counter(e.label for e in train).most_common(1)[0][0]
    truth = [e.label for e in held_out]
    preds = [top] * len(truth)
    return EvalResult(macro_f1(truth, preds), accuracy(truth, preds), n=len(truth))


def _fit_temperature(logits: np.ndarray, targets: np.ndarray) -> float:
    """One scalar T minimising validation NLL (Guo et al. 2017), searched on a log grid."""
    if len(targets) == 0:
        return 1.0
    best_t, best_nll = 1.0, math.inf
    for t in np.exp(np.linspace(math.log(0.05), math.log(10.0), 80)):
        z = logits / t
        z = z - z.max(axis=1, keepdims=True)
        nll = float(-(z[np.arange(len(targets)), targets] - np.log(np.exp(z).sum(axis=1))).mean())
        if nll < best_nll:
            best_t, best_nll = float(t), nll
    return best_t


def dedupe(examples: Sequence[Example]) -> list[Example]:
    """Identical (text, label) pairs become one example whose weight grows with sqrt(count): the
    stream is highly repetitive, so this cuts an epoch several-fold without dropping information."""
    groups: dict[tuple[str, str, bool], list[Example]] = {}
    for e in examples:
        groups.setdefault((e.text, e.label, e.weak), []).append(e)
    return [Example(text, label, group[0].source, math.sqrt(len(group)) * sum(g.weight for g in group) / len(group),
                    weak, group[0].kind) for (text, label, weak), group in groups.items()]


def train_classifier(train: Sequence[Example], cfg: TrainConfig, name: str = "candidate") -> ThreatClassifier:
    """Train from ``cfg.arch`` on ``train`` (10% kept aside for temperature); returns the loaded classifier."""
    torch.manual_seed(cfg.seed)
    rng = random.Random(cfg.seed)
    items = dedupe(train) if cfg.dedupe else list(train)
    rng.shuffle(items)
    n_val = max(1, len(items) // 10)
    val, fit = items[:n_val], items[n_val:]
    device = pick_device(cfg.device)
    tokenizer = load_tokenizer()
    model = build_model(cfg.arch, init=cfg.init).to(device)
    if cfg.freeze_embeddings:
        model.bert.embeddings.word_embeddings.weight.requires_grad_(False)
    label_id = {lab: i for i, lab in enumerate(LABELS)}
    counts = Counter(e.label for e in fit)
    total = sum(counts.values())
    class_w = torch.tensor([math.sqrt(total / (len(counts) * counts[lab])) if counts[lab] else 1.0 for lab in LABELS],
                           dtype=torch.float32, device=device)
    lr = cfg.lr or (5e-5 if cfg.arch == "minilm" else 2e-3)
    optim = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=lr, weight_decay=0.01)
    steps = max(1, cfg.epochs * math.ceil(len(fit) / cfg.batch_size))
    sched = torch.optim.lr_scheduler.OneCycleLR(optim, max_lr=lr, total_steps=steps, pct_start=0.1)
    started = time.monotonic()
    model.train()
    bar = tqdm(total=steps, desc=f"train {cfg.arch}", unit="batch", disable=not cfg.progress, mininterval=2)
    stop = False
    done = 0
    for _epoch in range(cfg.epochs):
        rng.shuffle(fit)
        for s in range(0, len(fit), cfg.batch_size):
            chunk = fit[s : s + cfg.batch_size]
            enc = tokenizer([e.text for e in chunk], truncation=True, max_length=cfg.max_length, padding=True,
                            return_tensors="pt", return_token_type_ids=False).to(device)
            target = torch.tensor([label_id[e.label] for e in chunk], device=device)
            weight = torch.tensor([e.weight for e in chunk], device=device)
            logits = model(**enc).logits
            loss = (torch.nn.functional.cross_entropy(logits, target, weight=class_w, reduction="none") * weight)
            loss = loss.sum() / weight.sum()
            optim.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optim.step()
            sched.step()
            bar.update(1)
            done += 1
            if cfg.on_progress is not None:
                cfg.on_progress(done, steps)
            bar.set_postfix(loss=f"{loss.item():.3f}", refresh=False)
            if cfg.max_seconds and time.monotonic() - started > cfg.max_seconds:
                stop = True
                break
        if stop:
            break
    bar.close()
    model.eval()
    clf = ThreatClassifier(model, tokenizer, LABELS, max_length=cfg.max_length, device=device, name=name,
                           meta={"arch": cfg.arch, "init": cfg.init, "train_examples": len(fit),
                                 "train_seconds": round(time.monotonic() - started, 1)})
    val_logits, val_emb = clf.forward([e.text for e in val])
    clf.temperature = _fit_temperature(val_logits, np.array([label_id[e.label] for e in val]))
    clf.gate = fit_gate(clf, fit, val_emb, cfg.seed)
    return clf


def fit_gate(clf: ThreatClassifier, fit: Sequence[Example], held_out_embeddings: np.ndarray, seed: int = 0,
             max_texts: int = 20_000) -> DistributionGate:
    """The OOD gate of ``clf``: centroids of (up to ``max_texts`` distinct) training texts, kinds of all."""
    unique: dict[str, Example] = {}
    for e in fit:
        unique.setdefault(e.text, e)
    sample = list(unique.values())
    if len(sample) > max_texts:
        sample = random.Random(seed).sample(sample, max_texts)
    _logits, emb = clf.forward([e.text for e in sample])
    return DistributionGate.fit(emb, [e.text for e in sample], [e.label for e in sample],
                                [e.kind for e in fit], held_out_embeddings, seed=seed)


def save_candidate(clf: ThreatClassifier, path: Path, metrics: dict[str, Any]) -> None:
    clf.save(path, {"metrics": metrics})
