"""Model tier benchmark: (a) plain batched forward pass vs (b) the whole model tier, in one run.

(b) includes text rendering, burst context, tokenisation, the forward pass and building verdicts
(``ModelTier.score``: the routing decision is the router's, measured with the pipeline).
Prints events/s, the ratio b/a (target >= 0.8) and macro-F1 on a fresh generator stream.

    .venv/bin/python bench/model.py --model MODEL_DIR/classifier/v0001 [--teacher] [--events 20000]
"""

from __future__ import annotations

import argparse
import time
from datetime import UTC, datetime
from pathlib import Path

import torch

from secustream.analyzer.model.classifier import LABELS, ThreatClassifier, build_model, load_tokenizer
from secustream.analyzer.model.tier import ModelSource, ModelTier
from secustream.generator import EventGenerator
from secustream.state import MemoryState
from secustream.training.dataset import render_stream
from secustream.training.metrics import macro_f1


def plain_forward(clf: ThreatClassifier, texts: list[str], batch: int) -> float:
    """events/s of model(**inputs) alone on pre-tokenised, per-batch padded tensors."""
    chunks = [clf.tokenizer(texts[i : i + batch], truncation=True, max_length=clf.max_length, padding=True,
                            return_tensors="pt", return_token_type_ids=False).to(clf.device)
              for i in range(0, len(texts), batch)]
    with torch.inference_mode():
        clf.model(**chunks[0])
        started = time.perf_counter()
        for enc in chunks:
            clf.model(**enc).logits.float().cpu()
    return len(texts) / (time.perf_counter() - started)


def tier_rate(clf: ThreatClassifier, events: list, batch: int) -> tuple[float, list[str]]:  # type: ignore[type-arg]
    tier = ModelTier(ModelSource(lambda _p: clf, path="bench"), MemoryState(), "bench", batch_size=batch)
    preds: list[str] = []
    per_batch = 500  # what the worker hands the router at once
    tier.score(events[:per_batch])
    started = time.perf_counter()
    for i in range(0, len(events), per_batch):
        part = events[i : i + per_batch]
        preds.extend(v.threat_type for v in tier.score(part) or ())
    return len(events) / (time.perf_counter() - started), preds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", required=True, help="classifier artifact (secustream train output)")
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=4242, help="a stream seed not used in training")
    parser.add_argument("--batch", type=int, nargs="+", default=[256])
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0 = default)")
    parser.add_argument("--teacher", action="store_true", help="also time all-MiniLM-L6-v2 (untrained head)")
    parser.add_argument("--device", default="auto")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    stream = EventGenerator(seed=args.seed, attack_ratio=0.05, start=datetime(2026, 7, 1, tzinfo=UTC)).next_batch(
        args.events)
    events = [g.event for g in stream]
    truth = [g.label.value for g in stream]
    texts = render_stream(events)
    rows: list[tuple[str, str, int, float, float, float, str]] = []
    candidates: list[tuple[str, str, ThreatClassifier]] = []
    for backend in ("torch", "int8"):
        clf = ThreatClassifier.load(Path(args.model), device=args.device, backend=backend)
        if backend == "int8" and clf.device.type != "cpu":
            continue
        candidates.append((clf.name, backend, clf))
        nodedup = ThreatClassifier.load(Path(args.model), device=args.device, backend=backend)
        nodedup.dedupe = False
        candidates.append((clf.name + " (no dedup)", backend, nodedup))
    if args.teacher:
        teacher = ThreatClassifier(build_model("minilm"), load_tokenizer(), LABELS, max_length=64, name="minilm-l6")
        candidates.append(("all-MiniLM-L6-v2 (untrained head)", "torch", teacher))
    for name, backend, clf in candidates:
        for batch in args.batch:
            a = plain_forward(clf, texts, batch)
            b, preds = tier_rate(clf, events, batch)
            f1 = "n/a" if "untrained" in name else f"{macro_f1(truth, preds):.4f}"
            rows.append((name, backend, batch, a, b, b / a, f1))
            print(f"  measured {name} {backend} batch {batch}: a={a:,.0f}/s b={b:,.0f}/s", flush=True)
    device = candidates[0][2].device
    print(f"\nmodel tier benchmark on {device} ({torch.get_num_threads()} torch threads), {args.events} events, "
          f"seed {args.seed}")
    print(f"| {'model':<36} | backend | batch | (a) forward ev/s | (b) tier ev/s | b/a  | macro-F1 |")
    print(f"|{'-' * 38}|---------|-------|------------------|---------------|------|----------|")
    for name, backend, batch, a, b, ratio, f1 in rows:
        print(f"| {name:<36} | {backend:<7} | {batch:>5} | {a:>16,.0f} | {b:>13,.0f} | {ratio:4.2f} | {f1:>8} |")


if __name__ == "__main__":
    main()
