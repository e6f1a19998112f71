"""Content packs: install from a directory, a zip and a URL; atomic, versioned, no-op on the same content;
filters; analyzers pick a new pack up through the hot reload; coverage from the CLI."""

from __future__ import annotations

import functools
import http.server
import io
import json
import threading
import time
import urllib.request
import zipfile
from collections.abc import Iterator
from datetime import UTC, datetime
from email.message import Message
from pathlib import Path

import pytest

from secustream.analyzer.sigma import SigmaEngine, packs
from secustream.analyzer.sigma.filters import RuleFilter
from secustream.analyzer.sigma.loader import MAX_RULE_FILE
from secustream.analyzer.sigma.packs import PackError, SigmaSources, install, installed
from secustream.cli import main
from secustream.events import SecurityEvent
from secustream.state import MemoryState

RULE = """title: {title}
id: {uid}
status: {status}
description: test rule
author: Test Author
references:
    - https://example.org/{slug}
logsource:
    product: windows
    category: process_creation
detection:
    selection:
        CommandLine|contains: '{needle}'
    condition: selection
level: {level}
tags:
    - attack.credential-access
    - attack.t1003.001
"""


def write_rule(folder: Path, slug: str, needle: str, level: str = "high", status: str = "stable",
               uid: str = "5f1e7a52-3f0e-4c59-9a57-2c1b0d4e8a11") -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{slug}.yml").write_text(RULE.format(title=f"Rule {slug}", uid=uid, status=status, slug=slug,
                                                     needle=needle, level=level))


@pytest.fixture
def pack_v1(tmp_path: Path) -> Path:
    root = tmp_path / "src-v1" / "rules" / "windows"
    write_rule(root, "mimi", "sekurlsa::logonpasswords")
    write_rule(root, "noisy", "whoami", level="low", status="experimental", uid="6f1e7a52-3f0e-4c59-9a57-2c1b0d4e8a11")
    return tmp_path / "src-v1"


def zip_of(folder: Path, target: Path) -> Path:
    with zipfile.ZipFile(target, "w") as zf:
        for file in sorted(folder.rglob("*.yml")):
            zf.write(file, str(file.relative_to(folder)))
    return target


def process_event(command_line: str) -> SecurityEvent:
    return SecurityEvent(event_type="process", action="process_start", dataset="windows.sysmon", product="windows",
                         timestamp=datetime(2026, 3, 2, 10, 0, tzinfo=UTC),
                         unmapped={"EventID": 1, "CommandLine": command_line, "Image": "C:\\x.exe"})


def test_install_from_a_directory_is_versioned_and_the_same_content_twice_is_a_no_op(pack_v1: Path,
                                                                                       tmp_path: Path) -> None:
    packs = tmp_path / "packs"
    first = install(str(pack_v1), packs, "core")
    assert first.changed and first.rules == 2 and first.name == "core"
    again = install(str(pack_v1), packs, "core")
    assert not again.changed and again.version == first.version
    [active] = installed(packs)
    assert active.version == first.version and active.meta["source"] == str(pack_v1)
    assert len(list((packs / "core" / "versions").iterdir())) == 1


def test_install_from_a_zip_then_a_corrupt_zip_leaves_the_active_pack(pack_v1: Path, tmp_path: Path) -> None:
    packs = tmp_path / "packs"
    good = install(str(zip_of(pack_v1, tmp_path / "sigma_core.zip")), packs)
    assert good.name == "sigma_core" and good.changed
    corrupt = tmp_path / "sigma_core_broken.zip"
    corrupt.write_bytes(zip_of(pack_v1, tmp_path / "tmp.zip").read_bytes()[:200])
    with pytest.raises(PackError, match="not a readable zip"):
        install(str(corrupt), packs, "sigma_core")
    [active] = installed(packs)
    assert active.version == good.version
    assert not [p for p in packs.iterdir() if p.name.startswith(".staging-")]  # no debris


def test_a_pack_with_nothing_loadable_is_refused(tmp_path: Path) -> None:
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "x.yml").write_text("title: [broken\n")
    with pytest.raises(PackError, match="no rule"):
        install(str(tmp_path / "bad"), tmp_path / "packs", "bad")
    assert installed(tmp_path / "packs") == []


def test_an_unreadable_rule_file_is_an_issue_and_the_rest_installs(pack_v1: Path, tmp_path: Path) -> None:
    """A file that is not UTF-8, or larger than a rule file may be, is reported by name; it fails nothing else."""
    (pack_v1 / "rules" / "latin1.yml").write_bytes("title: caf\xe9\n".encode("latin-1"))
    result = install(str(pack_v1), tmp_path / "packs", "core")
    assert result.changed and result.rules == 2 and result.issues == 1
    [issue] = SigmaSources(None, tmp_path / "packs", RuleFilter()).compiled().issues
    assert issue.origin.endswith("latin1.yml") and issue.level == "error"
    assert issue.reason == "not read: not UTF-8 text (invalid continuation byte at byte 10)"


def test_a_zip_bomb_is_cut_at_the_rule_file_limit(pack_v1: Path, tmp_path: Path) -> None:
    """~300 KB of zip holding a 300 MB rule: the install writes 2 MiB of it, reports it and keeps the rest."""
    archive = zip_of(pack_v1, tmp_path / "bomb.zip")
    with zipfile.ZipFile(archive, "a", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("rules/windows/huge.yml", "title: huge\n#" + " " * (300 << 20))
    assert archive.stat().st_size < 1 << 20
    started = time.monotonic()
    result = install(str(archive), tmp_path / "packs", "core")
    assert time.monotonic() - started < 60  # it took minutes and 1.3 GB before; seconds here
    assert result.rules == 2 and result.issues == 1
    huge = next((tmp_path / "packs" / "core" / "versions").glob("*/rules/windows/huge.yml"))
    assert huge.stat().st_size == MAX_RULE_FILE + 1
    [issue] = SigmaSources(None, tmp_path / "packs", RuleFilter()).compiled().issues
    assert issue.reason == f"not read: larger than {MAX_RULE_FILE:,} bytes, the most a rule file may hold"


def test_a_pack_past_the_file_or_byte_limits_is_refused(pack_v1: Path, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    archive = zip_of(pack_v1, tmp_path / "many.zip")
    monkeypatch.setattr(packs, "MAX_PACK_FILES", 1)
    with pytest.raises(PackError, match="more than 1 rule files"):
        install(str(archive), tmp_path / "packs", "core")
    monkeypatch.setattr(packs, "MAX_PACK_FILES", 10)
    monkeypatch.setattr(packs, "MAX_PACK_BYTES", 600)
    with pytest.raises(PackError, match="more than 600 bytes"):
        install(str(pack_v1), tmp_path / "packs", "core")
    assert installed(tmp_path / "packs") == []
    assert not [p for p in (tmp_path / "packs").iterdir() if p.name.startswith(".staging-")]


@pytest.fixture
def http_dir(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    served = tmp_path / "served"
    served.mkdir()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(served))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", served
    finally:
        server.shutdown()


def test_install_from_a_url_needs_https_or_allow_http(pack_v1: Path, tmp_path: Path,
                                                      http_dir: tuple[str, Path]) -> None:
    base, served = http_dir
    zip_of(pack_v1, served / "sigma_all_rules.zip")
    with pytest.raises(PackError, match="only https"):
        install(f"{base}/sigma_all_rules.zip", tmp_path / "packs")
    said: list[str] = []
    result = install(f"{base}/sigma_all_rules.zip", tmp_path / "packs", allow_http=True, progress=said.append)
    assert result.changed and result.name == "sigma_all_rules" and result.rules == 2
    assert said[0] == f"downloading {base}/sigma_all_rules.zip" and said[1].startswith("downloaded 0.0 MiB")
    with pytest.raises(PackError, match="download failed"):
        install(f"{base}/missing.zip", tmp_path / "packs", allow_http=True)


def test_a_download_follows_redirects_only_to_https(tmp_path: Path) -> None:
    """urllib follows an https URL's redirect to plain http (or ftp); the "only https" rule holds for every hop."""
    class Redirecting(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(302)
            self.send_header("Location", "ftp://127.0.0.1/sigma_core.zip")
            self.end_headers()

        def log_message(self, *_args: object) -> None: ...

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Redirecting)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        with pytest.raises(PackError, match=r"redirected to ftp://127.0.0.1/sigma_core.zip; only https"):
            install(f"http://127.0.0.1:{server.server_address[1]}/sigma_core.zip", tmp_path / "packs", allow_http=True)
    finally:
        server.shutdown()
    assert installed(tmp_path / "packs") == []
    handler = packs._SchemeKeepingRedirects(allow_http=False)
    request = urllib.request.Request("https://example.org/sigma_core.zip")
    with pytest.raises(PackError, match="redirected to http://"):
        handler.redirect_request(request, io.BytesIO(), 302, "Found", Message(), "http://example.org/sigma_core.zip")
    followed = handler.redirect_request(request, io.BytesIO(), 302, "Found", Message(), "https://cdn.example.org/x.zip")
    assert followed is not None and followed.full_url == "https://cdn.example.org/x.zip"


def test_filters_keep_level_status_and_patterns(pack_v1: Path, tmp_path: Path) -> None:
    packs = tmp_path / "packs"
    install(str(pack_v1), packs, "core")
    default = SigmaSources(None, packs, RuleFilter()).load()
    assert [r.title for r in default.rules] == ["Rule mimi"] and default.filtered_out == 1
    everything = SigmaSources(None, packs, RuleFilter.everything()).load()
    assert len(everything.rules) == 2
    excluded = SigmaSources(None, packs, RuleFilter.parse("low", "stable,experimental", "", "attack.t1003*")).load()
    assert excluded.rules == ()
    only = SigmaSources(None, packs, RuleFilter.parse("low", "stable,test,experimental", "*noisy*,x", "")).load()
    assert only.rules == ()  # include patterns match ids, tags and logsources, not titles
    by_id = RuleFilter.parse("informational", "stable,experimental", "6f1e7a52-*", "")
    assert [r.title for r in SigmaSources(None, packs, by_id).load().rules] == ["Rule noisy"]
    with pytest.raises(ValueError, match="unknown status"):
        RuleFilter.parse("low", "stable,beta")


def test_running_analyzer_picks_up_an_installed_pack_and_verdicts_carry_attribution(pack_v1: Path,
                                                                                      tmp_path: Path) -> None:
    packs = tmp_path / "packs"
    sources = SigmaSources(None, packs, RuleFilter(), tmp_path / "cache")
    engine = SigmaEngine(sources.load(), MemoryState(), sources=sources, reload_interval=0.001)
    event = process_event("rundll32 sekurlsa::logonpasswords exit")
    assert engine.evaluate([event]) == [[]]
    install(str(pack_v1), packs, "core", cache_dir=tmp_path / "cache")
    time.sleep(0.01)
    assert engine.maybe_reload()  # what Router.reload() runs between batches
    [hits] = engine.evaluate([event])
    assert [h.rule_id for h in hits] == ["sigma:5f1e7a52-3f0e-4c59-9a57-2c1b0d4e8a11"]
    assert hits[0].detail == "matched Sigma rule 'Rule mimi' (by Test Author; ref https://example.org/mimi)"
    rule = engine.find(hits[0].rule_id)
    assert rule is not None and rule.info.author == "Test Author"
    assert rule.info.references == ("https://example.org/mimi",)
    v2 = tmp_path / "src-v2"
    write_rule(v2, "mimi", "lsadump::sam")
    install(str(v2), packs, "core", cache_dir=tmp_path / "cache")
    time.sleep(0.01)
    assert engine.maybe_reload()
    assert engine.evaluate([event]) == [[]]
    assert len(engine.evaluate([process_event("lsadump::sam")])[0]) == 1


def test_cli_install_list_and_coverage(pack_v1: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    packs = tmp_path / "packs"
    monkeypatch.setenv("SIGMA_PACKS_DIR", str(packs))
    monkeypatch.setenv("SIGMA_RULES_PATH", "off")
    assert main(["rules", "install", str(pack_v1), "--name", "core"]) == 0
    first = capsys.readouterr()
    assert "installed and active: 2 rules" in first.out
    assert "running analyzers load it within RULES_RELOAD_SECONDS" in first.out  # and when: the user ingests after
    progress = first.err.splitlines()  # what a user waiting on the first compile of a big pack sees
    assert progress[0].startswith("rules install: 2 rule files read, content fingerprint ")
    assert progress[1] == "rules install: compiling 2 rule files (parse, validate, plan; cached for the analyzers)"
    assert progress[2].startswith("rules install: compiled 2 rules and 0 correlations in ")
    assert main(["rules", "install", str(pack_v1), "--name", "core"]) == 0
    assert "already active: nothing to do" in capsys.readouterr().out
    bad = tmp_path / "bad.zip"
    bad.write_bytes(b"PK\x03\x04 not really")
    assert main(["rules", "install", str(bad), "--name", "core"]) == 1
    assert "the active pack is unchanged" in capsys.readouterr().err
    assert main(["rules", "list"]) == 0
    out = capsys.readouterr().out
    assert "core " in out and "2 rules, 0 correlations; 1 kept by the filters" in out
    assert "by level: high 1, low 1" in out and "by status: stable 1, experimental 1" in out
    assert "product:windows/category:process_creation 2" in out
    assert main(["rules", "coverage", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["tactics"] == {"credential_access": {"T1003.001": 1}} and data["rules"] == 1



def test_up_keeps_packs_in_the_data_dir_and_says_how_to_add_the_corpus(pack_v1: Path, tmp_path: Path) -> None:
    from secustream.config import Settings
    from secustream.up import with_packs

    settings, line = with_packs(Settings(), tmp_path / "data")
    assert str(tmp_path / "data" / "packs") == settings.SIGMA_PACKS_DIR
    assert "packs none" in line and "secustream rules install https://" in line
    assert f"--packs-dir {tmp_path / 'data' / 'packs'}" in line
    install(str(pack_v1), tmp_path / "data" / "packs", "core")
    _settings, line = with_packs(Settings(), tmp_path / "data")
    assert "packs core (2 rules)" in line


CDC_RULE = """title: CDC chase request
id: 0a6c4f1e-54c1-4b2a-9d2e-2c1b0d4e8a22
status: test
logsource:
    product: windows
    service: security
detection:
    selection:
        EventID: 4886
        Attributes|contains: 'cdc:'
    filter_main_known_cdc:
        Attributes|contains|expand: '%known_cdcs%'
    condition: selection and not 1 of filter_main_*
level: high
"""


def cdc_event(attributes: str) -> SecurityEvent:
    return SecurityEvent(event_type="other", action="windows_event_4886", dataset="windows.security",
                         product="windows", timestamp=datetime(2026, 3, 2, 10, 0, tzinfo=UTC),
                         unmapped={"EventID": 4886, "Channel": "Security", "Attributes": attributes})


def test_placeholders_come_with_the_pack_and_a_rule_without_values_says_how_to_give_them(
        pack_v1: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    """SigmaHQ's `%known_cdcs%` (|expand): without values the rule is reported with the flag to give them; with
    ``--placeholder`` it loads and its filter holds exactly those values (a new version; the same values again are
    a no-op), in the analyzer, ``rules list`` and PACK.json."""
    (pack_v1 / "rules" / "cdc.yml").write_text(CDC_RULE)
    packs = tmp_path / "packs"
    monkeypatch.setenv("SIGMA_PACKS_DIR", str(packs))
    monkeypatch.setenv("SIGMA_RULES_PATH", "off")
    without = install(str(pack_v1), packs, "core")
    assert without.rules == 2
    [issue] = [i for i in SigmaSources(None, packs, RuleFilter()).compiled().issues if i.level == "error"]
    assert "placeholder %known_cdcs% (expand modifier) has no values" in issue.reason
    assert "--placeholder known_cdcs=VALUE[,VALUE...]" in issue.reason
    capsys.readouterr()
    assert main(["rules", "install", str(pack_v1), "--name", "core", "--placeholder", "known_cdcs=DC01.corp.example",
                 "--placeholder", "%known_cdcs%=10.0.0.5, dc02*"]) == 0
    out, err = capsys.readouterr()
    assert "installed and active: 3 rules" in out and "placeholders known_cdcs (3 values): version " in err
    [active] = installed(packs)
    assert active.version != without.version
    assert active.meta["placeholders"] == {"known_cdcs": ["DC01.corp.example", "10.0.0.5", "dc02*"]}
    assert main(["rules", "install", str(pack_v1), "--name", "core", "--placeholder",
                 "known_cdcs=DC01.corp.example,10.0.0.5,dc02*"]) == 0
    assert "already active: nothing to do" in capsys.readouterr().out
    engine = SigmaEngine(SigmaSources(None, packs, RuleFilter()).load(), MemoryState())
    hits = engine.evaluate([cdc_event("cdc:rogue.example"), cdc_event("cdc:dc01.corp.example"),
                            cdc_event("cdc:10.0.0.5"), cdc_event("cdc:DC02-b.corp"), cdc_event("san:x")])
    assert [[h.rule_id for h in found] for found in hits] == [["sigma:0a6c4f1e-54c1-4b2a-9d2e-2c1b0d4e8a22"], [],
                                                             [], [], []]
    assert main(["rules", "list"]) == 0
    assert "%known_cdcs% = 3 values" in capsys.readouterr().out
    for bad, why in (("known_cdcs", "expected NAME=VALUE"), ("known cdcs=a", "expected NAME=VALUE"),
                     ("known_cdcs=, ,", "no value")):
        assert main(["rules", "install", str(pack_v1), "--name", "core", "--placeholder", bad]) == 1
        assert why in capsys.readouterr().err
    assert installed(packs)[0].version == active.version  # refused before anything was touched
