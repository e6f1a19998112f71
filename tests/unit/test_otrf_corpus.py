"""The OTRF split is fixed, by recording and complete; attack events come from the metadata; the
promotion judge rejects with figures."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from secustream.training import otrf
from secustream.training.classifier import EvalResult
from secustream.training.judge import RealFigures, judge
from tests.corpora import CORPORA


def _corpora() -> Path:
    if not (CORPORA / otrf.OTRF_DIR).is_dir():
        if os.environ.get("CI") == "true":
            pytest.fail(f"corpora missing at {CORPORA}")
        pytest.skip(f"corpora missing at {CORPORA}")
    return CORPORA


def test_split_is_fixed_by_recording_disjoint_and_names_every_recording():
    data = json.loads(otrf.SPLIT_FILE.read_text())
    names = [n for s in otrf.SPLITS for n in data[s]]
    assert len(names) == len(set(names)) == 109  # no recording in two splits
    assert {s: len(data[s]) for s in otrf.SPLITS} == {"train": 66, "dev": 22, "test": 21}
    recs = otrf.recordings(_corpora())
    assert {r.name for r in recs} == set(names)
    assert {r.split for r in recs if r.name in data["test"]} == {"test"}


def test_indicators_come_from_the_attackers_prompt_and_agent_table():
    meta = {"simulation": {"tools": [{"name": "Rubeus"}], "adversary_view": (
        "Name     La Internal IP     Machine Name      Username                Process            PID    Delay\n"
        "4EH9PC5S ps 172.18.39.6     WORKSTATION6      *THESHIRE\\wardog        powershell         5056   5/0.0\n"
        "(Empire: 4EH9PC5S) > shell C:\\users\\sbeavers\\Desktop\\Rubeus.exe asktgt /user:pgustavo /ptt\n"
        "(Empire: 4EH9PC5S) > shell Get-Service eventlog\n")}}
    ind = otrf.indicators_from(meta)
    assert {"rubeus.exe", "rubeus", "get-service"} <= ind.words
    assert "eventlog" not in ind.words and "asktgt" not in ind.words  # plain words are too generic
    assert ind.agents == {("workstation6", 5056)}
    agent_event = {"Hostname": "WORKSTATION6.theshire.local", "ParentProcessId": "5056", "Image": "C:\\x\\whoami.exe"}
    assert otrf.matches_indicators(agent_event, ind)
    assert otrf.matches_indicators({"CommandLine": "C:\\Temp\\RUBEUS.EXE asktgt"}, ind)
    assert not otrf.matches_indicators({"CommandLine": "svchost.exe -k netsvcs", "ProcessId": "5056",
                                        "Hostname": "WORKSTATION5"}, ind)


def test_a_real_recording_has_named_attack_events_and_background():
    rec = next(r for r in otrf.recordings(_corpora()) if r.name == "defense_evasion/cmd_bitsadmin_download_psh_script")
    assert rec.split == "test" and rec.techniques
    sample = otrf.sample_recording(rec, background=50)
    attack = [c for c in sample if c.attack]
    assert attack and len(sample) - len(attack) == 50
    assert any("bitsadmin" in (c.event.process.command_line or "").lower() for c in attack if c.event.process)


def _eval(f1: float) -> EvalResult:
    return EvalResult(f1, f1)


def test_judge_rejects_more_real_noise_or_fewer_detections_with_figures():
    quiet, noisy = RealFigures(0.004, 9, 15), RealFigures(0.31, 9, 15)
    blind = RealFigures(0.004, 7, 15)
    ok = judge(_eval(0.97), _eval(0.1), _eval(0.95), 3, quiet, quiet)
    assert ok.promoted and "real dev: 0.40% of background at high/critical" in ok.reason
    noise = judge(_eval(0.99), _eval(0.1), _eval(0.95), 3, noisy, quiet)
    assert not noise.promoted and "raises real background noise" in noise.reason and "31.00%" in noise.reason
    fewer = judge(_eval(0.99), _eval(0.1), _eval(0.95), 3, blind, quiet)
    assert not fewer.promoted and "lowers technique detection" in fewer.reason and "7/15" in fewer.reason
    assert not judge(_eval(0.90), _eval(0.1), _eval(0.95), 3, quiet, quiet).promoted  # synthetic still counts
    first = judge(_eval(0.97), _eval(0.1), None, None, RealFigures(0.009, 9, 15), RealFigures(0.004, 9, 15),
                  reference_is_rules=True)
    assert first.promoted and "the rules alone" in first.reason  # a first model may add noise up to 1 %
    loud = judge(_eval(0.97), _eval(0.1), None, None, RealFigures(0.02, 9, 15), RealFigures(0.004, 9, 15),
                 reference_is_rules=True)
    assert not loud.promoted and "2.00% at high/critical vs 0.40% with the rules alone" in loud.reason
    assert "corpora not found" in judge(_eval(0.97), _eval(0.1), None, None).reason


def test_a_recordings_technique_is_named_by_itself_its_parent_or_a_v18_successor():
    assert otrf.names_technique({"T1003"}, ("T1003.002",))
    assert otrf.names_technique({"T1003.001"}, ("T1003.002",))  # a sibling shares the parent
    assert otrf.names_technique({"T1685.005"}, ("T1562.002",))  # ATT&CK v18 moved Impair Defenses
    assert not otrf.names_technique({"T1087.001"}, ("T1069.001",))
    assert not otrf.names_technique(set(), ("T1003",))
    assert not otrf.names_technique({"T1562"}, ())
