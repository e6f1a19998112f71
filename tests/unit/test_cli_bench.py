"""`secustream bench NAME`: each name maps to a script in bench/, a missing checkout is a clear error."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from secustream.cli import BENCHMARKS, bench_script

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("name", sorted(BENCHMARKS))
def test_every_benchmark_name_has_its_script(name: str) -> None:
    assert bench_script(name, REPO).is_file()


def test_outside_a_checkout_the_error_says_where_benchmarks_live(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="source checkout"):
        bench_script("pipeline", tmp_path)


def test_arguments_reach_the_script() -> None:
    out = subprocess.run([sys.executable, "-m", "secustream.cli", "bench", "sigma", "--help"],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "--linear-events" in out.stdout
