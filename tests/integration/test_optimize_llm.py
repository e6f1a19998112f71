"""`secustream optimize-llm`: BootstrapFewShot against a local OpenAI-compatible endpoint, versioned and loadable."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from sqlalchemy import create_engine

from secustream.analyzer.llm.program import load_program
from secustream.analyzer.llm.stub import StubLLM
from secustream.config import Settings
from secustream.storage import registry
from secustream.training.optimize import run_optimization


def test_optimize_llm_saves_registers_and_promotes_a_loadable_program(pg_url, tmp_path):
    stub = StubLLM().start()
    engine = create_engine(pg_url)
    try:
        settings = Settings(LLM_API_BASE=stub.base_url, LLM_MODEL="openai/stub", DATABASE_URL=pg_url)  # type: ignore[call-arg]
        first = run_optimization(settings, engine, tmp_path, demo_events=14, max_demos=2)
        assert first.version == 1 and first.path.is_file()
        assert first.n_train + first.n_dev >= 4
        metrics = json.loads((first.path.parent / "metrics.json").read_text())
        assert metrics["n_dev"] == first.n_dev and 0.0 <= metrics["accuracy"] <= 1.0
        active = registry.active(engine, registry.LLM_PROGRAM)
        assert first.promoted and active is not None and active.version == 1
        program = load_program(first.path)  # the LLM tier loads exactly this
        assert len(program.assess.demos) <= 2

        # a second run is a new version; it is compared against the first, which stays active unless it is beaten
        second = run_optimization(settings, engine, tmp_path, demo_events=14, max_demos=2)
        assert second.version == 2
        assert (registry.active(engine, registry.LLM_PROGRAM).version == 2) == second.promoted  # type: ignore[union-attr]
    finally:
        engine.dispose()
        stub.stop()


def test_optimize_llm_without_an_lm_says_what_to_set(pg_url, tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("OPENAI_API_KEY", "LLM_API_BASE")}
    env.update(DATABASE_URL=pg_url, MODEL_DIR=str(tmp_path))
    proc = subprocess.run([sys.executable, "-m", "secustream.cli", "optimize-llm"], env=env, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode != 0
    assert "OPENAI_API_KEY or LLM_API_BASE" in proc.stderr
