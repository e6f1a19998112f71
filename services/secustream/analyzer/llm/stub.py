"""A deterministic OpenAI-compatible chat endpoint, so tests, demos and benchmarks need no real LLM.

It answers DSPy's ``[[ ## field ## ]]`` format. Markers in the prompt steer it: ``STUB-MALFORMED``
returns prose with no fields, ``STUB-SLOW`` sleeps ``slow_seconds`` first, ``STUB-ERROR`` answers 500.
Otherwise the threat type is the first class name that appears in the prompt's event text, else
``benign`` where the context says the classifier's closest training examples are labelled benign (its
claim rests on no example like the event), else the classifier's class quoted in the context, else ``benign``.
The incident story program (an ``incident`` input) gets a story.
It counts calls so tests can prove the cache and the shared budget work.
"""

from __future__ import annotations

import json
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from secustream.events import ThreatClass

_FIELD = re.compile(r"\[\[ ## (\w+) ## \]\]")


def _story(prompt: str) -> str:
    """The incident story program's fields (alerts/story.py): a true positive when a chain is named."""
    incident = prompt.split("[[ ## incident ## ]]")[-1]
    chained = "->" in incident.split("\n", 2)[1] if "\n" in incident else False
    fields = {"summary": "Stub story: the alerts describe one attack.",
              "verdict": "true_positive" if chained else "suspicious", "confidence": "0.88",
              "next_steps": json.dumps(["Isolate the host", "Reset the credentials"])}
    return "".join(f"[[ ## {name} ## ]]\n{value}\n\n" for name, value in fields.items()) + "[[ ## completed ## ]]"


def _answer(prompt: str) -> str:
    if "[[ ## incident ## ]]" in prompt and "[[ ## event ## ]]" not in prompt:
        return _story(prompt)
    threat = "benign"
    event_part, _, rest = prompt.split("[[ ## event ## ]]")[-1].partition("[[ ## context ## ]]")
    said = re.search(r"classifier says (\w+)", rest)
    for cls in ThreatClass:
        if cls.value != "benign" and cls.value in event_part:
            threat = cls.value
            break
    else:
        unsupported = "closest training examples labelled benign" in rest  # the model tier's own evidence
        if said and said.group(1) in {c.value for c in ThreatClass} and not unsupported:
            threat = said.group(1)  # no marker: agree with the classifier
    risk = "low" if threat == "benign" else "high"
    fields = {
        "risk_level": risk,
        "threat_type": threat,
        "confidence": "0.93",
        "analysis": f"Stub assessment: {threat}.",
        "recommended_actions": json.dumps(["Review the event"] if threat == "benign" else ["Isolate the host"]),
        "mitre_ids": json.dumps([] if threat == "benign" else ["T1110"]),
    }
    body = "".join(f"[[ ## {name} ## ]]\n{value}\n\n" for name, value in fields.items())
    return body + "[[ ## completed ## ]]"


class StubLLM:
    """Run with ``start()``; ``base_url`` is what LLM_API_BASE takes; ``calls`` counts requests."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, slow_seconds: float = 5.0) -> None:
        self.slow_seconds = slow_seconds
        self._lock = threading.Lock()
        self.calls = 0
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                request: dict[str, Any] = json.loads(self.rfile.read(length) or b"{}")
                with stub._lock:
                    stub.calls += 1
                prompt = "\n".join(str(m.get("content", "")) for m in request.get("messages", []))
                if "STUB-ERROR" in prompt:
                    self._send(500, {"error": {"message": "stub failure", "type": "server_error"}})
                    return
                if "STUB-SLOW" in prompt:
                    time.sleep(stub.slow_seconds)
                content = "I am not able to answer in that format." if "STUB-MALFORMED" in prompt else \
                    _answer(prompt)
                self._send(200, {
                    "id": "chatcmpl-stub", "object": "chat.completion", "created": int(time.time()),
                    "model": request.get("model", "stub"),
                    "choices": [{"index": 0, "finish_reason": "stop",
                                 "message": {"role": "assistant", "content": content}}],
                    "usage": {"prompt_tokens": len(prompt) // 4, "completion_tokens": 40,
                              "total_tokens": len(prompt) // 4 + 40},
                })

            def _send(self, status: int, payload: dict[str, Any]) -> None:
                body = json.dumps(payload).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def log_message(self, format: str, *args: object) -> None:
                return None

        self._server = ThreadingHTTPServer((host, port), Handler)
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/v1"

    def start(self) -> StubLLM:
        self._thread = threading.Thread(target=self._server.serve_forever, name="stub-llm", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def main() -> None:  # pragma: no cover - manual helper
    import argparse

    parser = argparse.ArgumentParser(description="deterministic OpenAI-compatible stub LLM")
    parser.add_argument("--port", type=int, default=8089)
    args = parser.parse_args()
    stub = StubLLM(port=args.port).start()
    print(f"stub LLM at {stub.base_url}", flush=True)
    threading.Event().wait()


if __name__ == "__main__":  # pragma: no cover
    main()
