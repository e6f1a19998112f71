"""The suite's model trainings, run one after another in a background process from the start of the session.

Why: two module fixtures train a model (``test_evaluate_hybrid``: 12,000 synthetic events; ``test_real_data_model``:
synthetic + real OTRF background), ~100 s of one core on a fast host and ~300 s on a slow one, while the tests
before them mostly wait on brokers, databases and browsers. A test module names its training
(``BACKGROUND_TRAINING``, a ``TrainingSpec``); when collection finishes, ``conftest.py`` starts every named training
in collection order, each ``secustream train`` in its own process on its own migrated database and model folder,
one at a time (one torch thread, as the fixtures trained before: the same seed gives the same weights). A fixture
then waits for its training (``finished``), which is usually done by the time its module runs. A failed training
fails the fixture with the command's output; the processes are stopped and the databases dropped when the session
ends.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.conftest import fresh_database, service_missing

TRAINING_TIMEOUT = 1500  # seconds for one training: ~5x its time on the slowest host seen


@dataclass(frozen=True)
class TrainingSpec:
    """One ``secustream train`` a test module needs: its arguments and environment (DATABASE_URL and MODEL_DIR are
    given by the runner)."""

    name: str
    args: tuple[str, ...]
    env: tuple[tuple[str, str], ...] = ()


@dataclass
class Training:
    """A training's run: where it trains, what it printed, how it ended."""

    spec: TrainingSpec
    env: dict[str, str]
    stdout: str = ""
    stderr: str = ""
    returncode: int | None = None
    done: threading.Event = field(default_factory=threading.Event)

    @property
    def database_url(self) -> str:
        return self.env["DATABASE_URL"]

    @property
    def model_dir(self) -> Path:
        return Path(self.env["MODEL_DIR"])


class BackgroundTrainings:
    """The session's trainings: databases made and migrated up front, then one worker thread runs them in order."""

    def __init__(self, specs: list[TrainingSpec]) -> None:
        from secustream.storage.migrate import upgrade

        self._stack = contextlib.ExitStack()
        self._lock = threading.Lock()
        self._process: subprocess.Popen[str] | None = None
        self._stopping = False
        self._environ = dict(os.environ)  # now, before any test's monkeypatch can change it
        self.trainings: dict[str, Training] = {}
        try:
            for spec in specs:
                url = self._stack.enter_context(fresh_database(f"secustream_{spec.name}"))
                upgrade(url)  # here, not in the thread: migrations are not run from two threads at once
                models = self._stack.enter_context(tempfile.TemporaryDirectory(prefix=f"models-{spec.name}-"))
                env = {**dict(spec.env), "DATABASE_URL": url, "MODEL_DIR": models}
                self.trainings[spec.name] = Training(spec, env)
        except BaseException:
            self._stack.close()
            raise
        self._thread = threading.Thread(target=self._run_all, name="background-training", daemon=True)
        self._thread.start()

    def _run_all(self) -> None:
        command = str(Path(sys.executable).with_name("secustream"))
        for training in self.trainings.values():
            try:
                with self._lock:
                    if self._stopping:
                        training.stderr = "the session ended before this training started"
                        continue
                    self._process = subprocess.Popen(
                        [command, *training.spec.args], env={**self._environ, **training.env}, text=True,
                        stdout=subprocess.PIPE, stderr=subprocess.PIPE)
                try:
                    training.stdout, training.stderr = self._process.communicate(timeout=TRAINING_TIMEOUT)
                except subprocess.TimeoutExpired:
                    self._process.kill()
                    training.stdout, training.stderr = self._process.communicate()
                    training.stderr += f"\n(killed after {TRAINING_TIMEOUT} s)"
                training.returncode = self._process.returncode
            except Exception as exc:
                training.stderr += f"\ncould not run the training: {exc!r}"
            finally:
                training.done.set()

    def finished(self, name: str) -> Training:
        """The training ``name`` once it has ended; fails the test (with its output) if it did not succeed."""
        training = self.trainings[name]
        if not training.done.wait(TRAINING_TIMEOUT * len(self.trainings)):
            pytest.fail(f"background training {name!r} did not end")
        if training.returncode != 0:
            pytest.fail(f"background training {name!r} ({' '.join(training.spec.args)}) exited "
                        f"{training.returncode}\n--- stdout\n{training.stdout[-6000:]}\n--- stderr\n"
                        f"{training.stderr[-6000:]}")
        return training

    def close(self) -> None:
        """Stop a training still running, wait for the thread, drop the databases and model folders."""
        with self._lock:
            self._stopping = True
            if self._process is not None and self._process.poll() is None:
                self._process.kill()
        self._thread.join(60)
        self._stack.close()


BACKGROUND_TRAININGS = pytest.StashKey[BackgroundTrainings]()


STARTING_FAILED = pytest.StashKey[str]()


def start(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Start the trainings the collected modules name (``BACKGROUND_TRAINING``), in collection order. A database that
    cannot be made is reported by the fixtures that wait (a missing service: failed under CI, skipped elsewhere)."""
    if config.option.collectonly:
        return
    specs: dict[str, TrainingSpec] = {}
    for item in items:
        spec = getattr(getattr(item, "module", None), "BACKGROUND_TRAINING", None)
        if isinstance(spec, TrainingSpec):
            specs.setdefault(spec.name, spec)
    if not specs:
        return
    try:
        config.stash[BACKGROUND_TRAININGS] = BackgroundTrainings(list(specs.values()))
    except (Exception, pytest.skip.Exception, pytest.fail.Exception) as exc:
        config.stash[STARTING_FAILED] = f"the background trainings could not start: {exc}"


def finished(config: pytest.Config, name: str) -> Training:
    """For a fixture: the named training of this session, once done (``BackgroundTrainings.finished``)."""
    failed = config.stash.get(STARTING_FAILED, None)
    if failed is not None:
        service_missing(failed)
    trainings = config.stash.get(BACKGROUND_TRAININGS, None)
    if trainings is None or name not in trainings.trainings:
        pytest.fail(f"no background training {name!r} was started (its module sets BACKGROUND_TRAINING)")
    return trainings.finished(name)


def stop(config: pytest.Config) -> None:
    trainings = config.stash.get(BACKGROUND_TRAININGS, None)
    if trainings is not None:
        trainings.close()
