"""Commands degrade, never die: hostile input and a vanishing label store, against the real broker and PostgreSQL.

`ingest` reads bytes: binary junk, invalid UTF-8, NUL bytes, overlong and oversized lines are
published escaped or dead-lettered with stage and reason, and no line after them is lost.
`generate` keeps producing while its label database is gone and reports the labels it lost.
"""

from __future__ import annotations

import codecs
import hashlib
import json
import os
import re
import subprocess
import sys
from pathlib import Path

from confluent_kafka import Message
from prometheus_client import CollectorRegistry
from sqlalchemy import create_engine, text

from secustream.ingest import DLQ_MAX_BYTES, MAX_LINE_BYTES, ingest_lines, read_lines
from secustream.messaging.client import TrackedProducer, producer_config
from secustream.metrics import GeneratorMetrics
from secustream.normalizers import NORMALIZERS, normalize_web_access, raw_input
from secustream.normalizers.raw_input import normalize_raw_message

from ..conftest import PG_ADMIN_URL
from .pipeline_helpers import read_topic, scalar, wait_for

TOMCAT = Path(__file__).parents[1] / "data" / "web" / "tomcat_junk.log"
SUMMARY = re.compile(r"read (\d+) lines: published (\d+) events, rejected (\d+)")
VALID = re.compile(rb'^[\d.]+ - - \[[^\]]+\] "[A-Z]+ [ -~]+ HTTP/1\.1" \d{3} [\d-]+$')

WINDOWS_OK = {"EventID": 4688, "TimeCreated": "2026-03-02T09:20:00Z", "Computer": "WS01.corp.example",
              "Channel": "Security", "Provider": "Microsoft-Windows-Security-Auditing",
              "EventData": {"NewProcessName": "C:\\Windows\\System32\\cmd.exe", "CommandLine": "cmd /c whoami"}}
# A real recorder wrote a code-page string as raw bytes: invalid UTF-8 inside a JSON string.
WINDOWS_BAD = (b'{"EventID": 4688, "TimeCreated": "2026-03-02T09:20:01Z", "Computer": "WS01.corp.example", '
               b'"Channel": "Security", "Provider": "Microsoft-Windows-Security-Auditing", "EventData": '
               b'{"NewProcessName": "C:\\\\Windows\\\\System32\\\\cmd.exe", '
               b'"CommandLine": "cmd /c echo caf\xe9 \xff\xfe"}}')


def cli(args: list[str], env: dict[str, str], stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([sys.executable, "-m", "secustream.cli", *args], env=env, input=stdin, capture_output=True,
                          timeout=180)


def kafka_env(bootstrap: str, topics: dict[str, str], **extra: str) -> dict[str, str]:
    return dict(os.environ, KAFKA_SERVER=bootstrap, KAFKA_TOPIC=topics["events"], KAFKA_DLQ_TOPIC=topics["dlq"],
                PROMETHEUS_PORT="0", LOG_LEVEL="INFO", **extra)


def headers_of(msg: Message) -> dict[str, bytes]:
    return {k: v for k, v in (msg.headers() or [])}


def summary_counts(stdout: bytes) -> tuple[int, int, int]:
    found = SUMMARY.search(stdout.decode())
    assert found, stdout
    read, published, rejected = map(int, found.groups())
    return read, published, rejected


def unescape(raw: str) -> bytes:
    """The original bytes of a line published with its invalid UTF-8 escaped as \\xNN (no literal backslashes)."""
    return codecs.escape_decode(raw.encode("utf-8"))[0]


def test_ingest_stdin_survives_binary_junk_and_loses_no_valid_line(kafka_bootstrap, topics):
    prefix = b'10.0.0.9 - - [02/Mar/2026:10:00:08 +0000] "GET /'
    overlong = prefix + b"B" * (MAX_LINE_BYTES + 4096) + b' HTTP/1.1" 414 -'
    # Under the line limit, but its event is far over the producer's message.max.bytes: refused at produce.
    oversized = prefix + b"C" * 990_000 + b' HTTP/1.1" 414 -'
    last = b'10.0.0.10 - - [02/Mar/2026:10:00:10 +0000] "GET /after-the-junk HTTP/1.1" 200 12'
    stdin = TOMCAT.read_bytes() + b"\n".join([overlong, oversized, last])  # the last line has no newline
    numbered = {n: line for n, line in enumerate(stdin.split(b"\n"), start=1) if line.strip()}  # as ingest counts
    inputs = list(numbered.values())

    proc = cli(["ingest", "--format", "web-access", "-"], kafka_env(kafka_bootstrap, topics), stdin)

    assert proc.returncode == 0, proc.stderr.decode(errors="replace")
    read, published, rejected = summary_counts(proc.stdout)
    assert read == len(inputs) and published + rejected == read
    events = [json.loads(m.value()) for m in read_topic(kafka_bootstrap, topics["events"], published)]
    dead = read_topic(kafka_bootstrap, topics["dlq"], rejected)
    assert len(events) == published and len(dead) == rejected

    valid = [line for line in inputs if VALID.match(line) and len(line) < 1000]
    assert len(valid) == 7 and last in valid
    raws = {e["raw"] for e in events}
    assert {line.decode() for line in valid} <= raws, "a valid line was lost"

    # Every junk line is published (escaped, marked) or dead-lettered with stage and reason: none vanished.
    dead_by_origin = {headers_of(m)["x-secustream-origin"]: m for m in dead}
    for m in dead:
        hdr = headers_of(m)
        assert hdr["x-secustream-error-stage"] in (b"read", b"normalise", b"produce") and hdr["x-secustream-error"]
    published_bytes = {unescape(e["raw"]) if e.get("unmapped", {}).get("invalid_utf8") else e["raw"].encode()
                       for e in events}
    for number, line in numbered.items():
        if line in published_bytes:
            continue
        msg = dead_by_origin.get(f"line {number}".encode())
        assert msg is not None, f"input line {number} neither published nor dead-lettered: {line[:80]!r}"
        hdr = headers_of(msg)
        if len(line) <= DLQ_MAX_BYTES:
            assert msg.value() == line and "x-secustream-truncated" not in hdr
        else:  # cut to the bound; size and digest name the original
            assert msg.value() == line[:DLQ_MAX_BYTES] and hdr["x-secustream-truncated"] == b"1"
            assert int(hdr["x-secustream-original-size"]) == len(line)
            assert hdr["x-secustream-original-sha256"].decode() == hashlib.sha256(line).hexdigest()

    stages = {headers_of(m)["x-secustream-origin"]: headers_of(m)["x-secustream-error-stage"] for m in dead}
    line_of = {line: n for n, line in numbered.items()}
    assert stages[f"line {line_of[overlong]}".encode()] == b"read"
    assert stages[f"line {line_of[oversized]}".encode()] == b"produce"  # MSG_SIZE_TOO_LARGE: that record only
    tls = next(e for e in events if e["raw"].startswith("203.0.113.9"))
    assert tls["unmapped"]["invalid_utf8"] is True and unescape(tls["raw"]) == numbered[3]
    assert "line too long" in proc.stdout.decode() and "produce" in proc.stdout.decode()


def test_invalid_utf8_in_windows_json_is_published_and_recoverable_from_raw(kafka_bootstrap, topics):
    stdin = b"\n".join([json.dumps(WINDOWS_OK).encode(), WINDOWS_BAD, json.dumps({**WINDOWS_OK, "EventID": 4689})
                        .encode()]) + b"\n"

    proc = cli(["ingest", "--format", "windows", "-"], kafka_env(kafka_bootstrap, topics), stdin)

    assert proc.returncode == 0, proc.stderr.decode(errors="replace")
    assert summary_counts(proc.stdout) == (3, 3, 0)
    assert "1 lines had invalid UTF-8" in proc.stdout.decode()
    events = [json.loads(m.value()) for m in read_topic(kafka_bootstrap, topics["events"], 3)]
    bad = [e for e in events if e.get("unmapped", {}).get("invalid_utf8")]
    assert len(bad) == 1 and len(events) == 3
    command_line = bad[0]["unmapped"]["CommandLine"]
    assert command_line == "cmd /c echo caf\\xe9 \\xff\\xfe"
    original = json.loads(WINDOWS_BAD.decode("latin-1"))["EventData"]["CommandLine"].encode("latin-1")
    assert unescape(command_line) == original
    # raw is the line with each bad byte JSON-escaped: it still parses, and the bytes come back from it.
    assert json.loads(bad[0]["raw"])["EventData"]["CommandLine"] == command_line


def test_raw_input_path_decodes_the_same_way_and_survives_any_normaliser_exception(monkeypatch):
    event, reason = normalize_raw_message(WINDOWS_BAD, [("x-secustream-format", b"windows")], "not an event")
    assert reason == "" and event is not None and event.unmapped["invalid_utf8"] is True
    assert event.unmapped["CommandLine"] == "cmd /c echo caf\\xe9 \\xff\\xfe"
    junk = TOMCAT.read_bytes().split(b"\n")[2]  # Tomcat's line holding a TLS ClientHello
    event, reason = normalize_raw_message(junk, [("x-secustream-format", b"web-access")], "not an event")
    assert event is not None and event.unmapped["invalid_utf8"] is True and unescape(event.raw or "") == junk

    def explode(_line: str) -> None:
        raise RecursionError("maximum recursion depth exceeded")

    monkeypatch.setattr(raw_input, "NORMALIZERS", {**NORMALIZERS, "web-access": explode})
    event, reason = normalize_raw_message(junk, [("x-secustream-format", b"web-access")], "not an event")
    assert event is None and reason == "web-access normaliser: normaliser error RecursionError: maximum recursion " \
                                       "depth exceeded"


def test_ingest_dead_letters_a_line_whatever_the_normaliser_raises(kafka_bootstrap, topics, tmp_path):
    lines = TOMCAT.read_bytes().split(b"\n")
    valid = [line for line in lines if VALID.match(line)]

    def fragile(line: str):  # type: ignore[no-untyped-def]
        if "/manager/html" in line:
            raise RecursionError("maximum recursion depth exceeded")
        if "favicon" in line:
            raise OverflowError("int too large to convert")
        return normalize_web_access(line)

    source = tmp_path / "in.log"
    source.write_bytes(b"\n".join(lines))
    producer = TrackedProducer(producer_config(kafka_bootstrap, "test-ingest"))
    with source.open("rb") as handle:
        report = ingest_lines(read_lines(handle), "web-access", fragile, producer, topics["events"], topics["dlq"],
                              GeneratorMetrics(CollectorRegistry()))
    assert report.ok and report.read == report.published + report.rejected
    assert report.reasons["normaliser error RecursionError"] == 2
    assert report.reasons["normaliser error OverflowError"] == 1
    events = read_topic(kafka_bootstrap, topics["events"], report.published)
    assert {json.loads(m.value())["raw"] for m in events} >= {
        line.decode() for line in valid if b"/manager/html" not in line and b"favicon" not in line}
    dead = read_topic(kafka_bootstrap, topics["dlq"], report.rejected)
    crashed = [m for m in dead if headers_of(m)["x-secustream-error"].startswith(b"normaliser error")]
    assert len(crashed) == 3 and all(headers_of(m)["x-secustream-error-stage"] == b"normalise" for m in crashed)


def _allow_connections(pg_url: str, allow: bool) -> None:
    """Open or close the database to new connections; closing also ends the ones it has."""
    name = pg_url.rsplit("/", 1)[1]
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS {"true" if allow else "false"}'))
            if not allow:
                conn.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                                  "WHERE datname = :name AND pid <> pg_backend_pid()"), {"name": name})
    finally:
        admin.dispose()


def test_generate_keeps_producing_while_the_label_store_is_gone(kafka_bootstrap, topics, pg_url, tmp_path):
    count = 4000
    log_path = tmp_path / "generate.log"
    env = kafka_env(kafka_bootstrap, topics, DATABASE_URL=pg_url)
    with log_path.open("wb") as log_file:
        proc = subprocess.Popen([sys.executable, "-m", "secustream.cli", "generate", "--count", str(count), "--rate",
                                 "400", "--seed", "5", "--no-redis"], env=env, stdout=log_file,
                                stderr=subprocess.STDOUT)
    try:
        wait_for(lambda: int(scalar(pg_url, "select count(*) from event_labels") or 0) > 0, 60, "first labels stored")
        _allow_connections(pg_url, False)
        wait_for(lambda: "label store unavailable" in log_path.read_text(), 60, "the outage noticed")
        assert proc.poll() is None, "the run ended before the outage: raise --count"
        _allow_connections(pg_url, True)
        assert proc.wait(timeout=120) == 0, log_path.read_text()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        _allow_connections(pg_url, True)

    output = log_path.read_text()
    done = re.search(r"produced (\d+) events; (\d+) labels could not be stored", output)
    assert done, output
    produced, lost = map(int, done.groups())
    assert produced == count and lost > 0
    assert output.count("label store unavailable") == 1, "warn once per outage, not per batch"
    assert "label store is back" in output
    assert len(read_topic(kafka_bootstrap, topics["events"], count)) == count
    assert scalar(pg_url, "select count(*) from event_labels") == count - lost  # resumed after the outage


def test_generate_starts_without_a_reachable_label_store(kafka_bootstrap, topics, pg_url):
    _allow_connections(pg_url, False)
    try:
        proc = cli(["generate", "--count", "200", "--rate", "2000", "--no-redis"],
                   kafka_env(kafka_bootstrap, topics, DATABASE_URL=pg_url))
    finally:
        _allow_connections(pg_url, True)
    output = proc.stdout.decode() + proc.stderr.decode()
    assert proc.returncode == 0, output
    assert "label store unreachable at start" in output
    assert re.search(r"produced 200 events; \d+ labels could not be stored", output), output
    assert len(read_topic(kafka_bootstrap, topics["events"], 200)) == 200
