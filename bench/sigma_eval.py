"""Sigma evaluation rate with 100 and 1,000 loaded rules, against plain dict lookups of the same events.

Prints, from one run in one process (so "events/s" is per core):
  (a) baseline: for each event, a plain ``dict.get`` of every field the loaded rules reference;
  (b) ``SigmaEngine.evaluate`` (logsource + required-field index) with 100 and with 1,000 rules;
  (c) the same rules evaluated without the index (every rule's logsource check + predicate per event);
and the ratios b/a, b(1000)/b(100) and b/c, plus how many rules per event the index let through.

Rules: the packaged starter set plus generated rules spread over the logsources the normalisers
produce (process_creation, process_access, Security/System ids, webserver, linux auth), written like
SigmaHQ rules (contains/endswith/windash/re/base64offset/cidr/…), so a few match and most do not.
Events: the Windows, Linux, auditd and web samples in tests/data plus generator traffic, normalised once.

Usage: python bench/sigma_eval.py [--events 20000] [--linear-events 4000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import itertools
import random
import time
import uuid
from pathlib import Path
from typing import Any

import yaml

from secustream.analyzer.sigma import SigmaEngine, SigmaRuleSet
from secustream.analyzer.sigma.fields import event_logsource
from secustream.analyzer.sigma.loader import build_ruleset, rule_files
from secustream.analyzer.sigma.matcher import EventView
from secustream.events import SecurityEvent
from secustream.generator import EventGenerator
from secustream.normalizers import iter_normalized
from secustream.state import MemoryState

ROOT = Path(__file__).resolve().parents[1]
PACKAGED = ROOT / "services" / "secustream" / "rules" / "sigma"
DATA = ROOT / "tests" / "data"
WORDS = ["mimikatz", "sekurlsa", "rubeus", "kerberoast", "bloodhound", "sharphound", "lazagne", "procdump",
         "nanodump", "invoke-", "downloadstring", "frombase64string", "bypass", "hidden", "vssadmin", "wbadmin",
         "bcdedit", "schtasks", "reg save", "ntdsutil", "wevtutil", "net group", "nltest", "adfind", "whoami /priv"]
IMAGES = ["\\rundll32.exe", "\\regsvr32.exe", "\\mshta.exe", "\\certutil.exe", "\\wmic.exe", "\\cscript.exe",
          "\\wscript.exe", "\\bitsadmin.exe", "\\msiexec.exe", "\\installutil.exe", "\\powershell.exe", "\\cmd.exe"]


def _template(i: int, rng: random.Random) -> tuple[dict[str, str], dict[str, Any]]:
    """(logsource, detection) of the i-th generated rule."""
    word, other = rng.choice(WORDS), rng.choice(WORDS)
    kind = i % 8
    if kind in (0, 1, 2):
        det: dict[str, Any] = {
            "selection_img": {"Image|endswith": rng.sample(IMAGES, 2)},
            "selection_cli": {"CommandLine|contains": [f"{word}{i}", f" {other} "]},
            "filter": {"ParentImage|endswith": "\\explorer.exe"},
            "condition": "all of selection_* and not filter"}
        if kind == 1:
            det["selection_cli"] = {"CommandLine|windash|contains": [f" -{word[:4]}{i} ", f" -{other[:3]} "]}
        if kind == 2:
            det["selection_cli"] = {"CommandLine|wide|base64offset|contains": f"{word}{i}"}
        return {"product": "windows", "category": "process_creation"}, det
    if kind == 3:
        return {"product": "windows", "category": "process_access"}, {
            "selection": {"TargetImage|endswith": "\\lsass.exe", "GrantedAccess|contains": f"0x{i:x}"},
            "condition": "selection"}
    if kind == 4:
        return {"product": "windows", "service": "security"}, {
            "selection": {"EventID": rng.choice([4624, 4625, 4648, 4672, 4688, 4720, 4771, 4768, 4769]),
                          "TargetUserName|startswith": f"{word}{i}"},
            "condition": "selection"}
    if kind == 5:
        return {"category": "webserver"}, {
            "selection": {"cs-uri-query|contains": [f"{word}{i}=", f"../{other}"]},
            "filter": {"c-ip|cidr": ["10.0.0.0/8", "192.168.0.0/16"]},
            "condition": "selection and not filter"}
    if kind == 6:
        return {"product": "linux", "service": "auth"}, {
            "keywords": [f"{word}{i}", f"*{other}{i}*"], "condition": "keywords"}
    return {"product": "windows", "service": "system"}, {
        "selection": {"EventID": 7045, "ImagePath|endswith": f"\\{word}{i}.exe",
                      "ServiceName|re|i": f"^{word[:3]}[a-z]{{2,8}}$"}, "condition": "selection"}


def rule_documents(total: int, seed: int = 1) -> list[tuple[str, str]]:
    docs = [(str(p), p.read_text()) for p in rule_files(PACKAGED)]
    base = sum(text.count("\ntitle:") + text.startswith("title:") for _, text in docs)
    rng = random.Random(seed)
    generated = []
    for i in range(max(0, total - base)):
        logsource, detection = _template(i, rng)
        generated.append(yaml.safe_dump({
            "title": f"Generated rule {i}", "name": f"gen-{i}", "id": str(uuid.UUID(int=rng.getrandbits(128))),
            "status": "test", "logsource": logsource, "detection": detection, "level": "medium",
            "tags": ["attack.execution", "attack.t1059"]}, sort_keys=False))
    docs.append(("generated.yml", "---\n".join(generated)))
    return docs


def events(count: int) -> list[SecurityEvent]:
    samples: list[SecurityEvent] = []
    for fmt, path, opts in (("windows", DATA / "windows" / "samples.jsonl", {}),
                            ("windows", DATA / "windows" / "lateral_movement.jsonl", {}),
                            ("linux-auth", DATA / "linux" / "auth.log", {"year": 2026}),
                            ("auditd", DATA / "linux" / "audit.log", {}),
                            ("web-access", DATA / "web" / "access.log", {})):
        lines = path.read_text().rstrip("\n").split("\n")
        samples += [r.event for r in iter_normalized(lines, fmt, **opts) if r.event is not None]
    generated = [g.event for g in EventGenerator(seed=5, attack_ratio=0.05, rate=1000).next_batch(count // 2)]
    out = [*generated]
    cycle = itertools.cycle(samples)
    while len(out) < count:
        out.append(next(cycle).model_copy(update={"event_id": uuid.uuid4()}))
    random.Random(3).shuffle(out)
    return out[:count]


def best_rate(fn: Any, n: int, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - started)
    return n / best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--linear-events", type=int, default=4_000, help="events for the unindexed comparison")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    evs = events(args.events)
    docs = [e.model_dump(mode="json", exclude_none=True) for e in evs]
    print(f"{len(evs)} normalised events ({len({d['dataset'] for d in docs if 'dataset' in d})} datasets); "
          f"best of {args.repeat} runs, one core")
    rows = []
    for total in (100, 1000):
        ruleset: SigmaRuleSet = build_ruleset(rule_documents(total))
        assert not ruleset.errors, ruleset.errors[:3]
        fields = sorted(ruleset.resolvers)

        def baseline(docs: list[dict[str, Any]] = docs, fields: list[str] = fields) -> None:
            for doc in docs:
                unmapped = doc.get("unmapped") or {}
                for f in fields:
                    unmapped.get(f)

        engine = SigmaEngine(ruleset, MemoryState())
        hits = engine.evaluate(evs, docs)
        index = engine._index
        considered = sum(len(index.candidates(event_logsource(d)).select(EventView(d, index.resolvers)))
                         for d in docs) / len(docs)

        lin_docs = docs[: args.linear_events]
        rules = ruleset.rules
        resolvers = dict(ruleset.resolvers)

        def linear(lin_docs: list[dict[str, Any]] = lin_docs, rules: tuple[Any, ...] = rules,
                   resolvers: dict[str, Any] = resolvers) -> None:
            for doc in lin_docs:
                tokens, view = event_logsource(doc), EventView(doc, resolvers)
                for rule in rules:
                    if rule.logsource <= tokens:
                        rule.predicate(view)

        base_rate = best_rate(baseline, len(docs), args.repeat)
        sigma_rate = best_rate(lambda engine=engine: engine.evaluate(evs, docs), len(docs), args.repeat)
        linear_rate = best_rate(linear, len(lin_docs), max(1, args.repeat - 1))
        rows.append((total, len(ruleset.rules) + len(ruleset.correlations), len(fields), base_rate, sigma_rate,
                     linear_rate, considered, sum(1 for h in hits if h)))

    print(f"{'rules':>6} {'loaded':>6} {'fields':>6} {'dict lookups ev/s':>18} {'sigma ev/s':>11} "
          f"{'sigma/dict':>10} {'unindexed ev/s':>15} {'indexed/unindexed':>17} {'rules tried/ev':>14} "
          f"{'events hit':>10}")
    for total, loaded, nfields, base_rate, sigma_rate, linear_rate, considered, hit in rows:
        print(f"{total:>6} {loaded:>6} {nfields:>6} {base_rate:>18,.0f} {sigma_rate:>11,.0f} "
              f"{sigma_rate / base_rate:>10.3f} {linear_rate:>15,.0f} {sigma_rate / linear_rate:>17.1f} "
              f"{considered:>14.2f} {hit:>10}")
    (_, _, _, _, s100, l100, *_), (_, _, _, _, s1000, l1000, *_) = rows
    print(f"1000 vs 100 rules: indexed rate ratio {s1000 / s100:.2f} (rules x10), unindexed {l1000 / l100:.2f}")


if __name__ == "__main__":
    main()
