"""The archive's OCSF claims, checked against the compiled OCSF 1.1.0 schema (package ``ocsf-json-schema``).

For every class the archive writes: each Arrow field is an attribute of that class (or of the object it sits
in) with a matching type, no attribute comes from a profile the records do not declare, every required
attribute is in the schema, and every record of a written day has them filled, with ids inside their enums.
And the mapping is lossless: every row comes back from its record.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from secustream.archive import make_archiver
from secustream.archive.ocsf import CLASSES, OCSF_VERSION, PROFILES, Origin, row_of
from secustream.archive.ocsf_events import event_record
from secustream.archive.ocsf_findings import alert_record, incident_record, verdict_record
from secustream.archive.rows import canonical_json
from secustream.archive.schema import SCHEMAS
from secustream.config import Settings
from secustream.events import SecurityEvent
from secustream.normalizers.windows import normalize_windows
from secustream.verdict import RiskLevel
from tests.archive_data import DAY, alert_and_incident_rows, day_rows, events_row

ORIGIN = Origin("AWS", "eu-west-1", "123456789012")
WrittenDay = tuple[Path, dict[str, list[dict[str, Any]]]]  # the archive root, the rows of each table


@cache
def ocsf() -> dict[str, Any]:
    from ocsf_json_schema import get_ocsf_schema

    return get_ocsf_schema(OCSF_VERSION)


@cache
def class_spec(key: str) -> dict[str, Any]:
    schema = ocsf()
    if key != "base_event":
        return schema["classes"][CLASSES[key].schema_key]
    # The export lists base_event's profiles (cloud, datetime) but not their attributes: take those from the
    # classes that carry the same profile.
    base = schema["base_event"]
    extra = {name: attr for spec in schema["classes"].values() for name, attr in spec["attributes"].items()
             if attr.get("profile") in base["profiles"]}
    return {**base, "attributes": {**extra, **base["attributes"]}}


def base_type(attr: Mapping[str, Any]) -> str:
    kind = attr.get("type", "")
    return ocsf()["types"].get(kind, {}).get("type") or kind


def applies(attr: Mapping[str, Any]) -> bool:
    """An attribute belongs to the records unless it comes from a profile they do not declare."""
    return not attr.get("profile") or attr["profile"] in PROFILES


def check_field(field: pa.Field, attr: Mapping[str, Any], where: str) -> Iterator[str]:
    kind = field.type
    if attr.get("is_array"):
        if not pa.types.is_list(kind):
            yield f"{where}: OCSF array, Arrow {kind}"
            return
        kind = kind.value_type
    ocsf_type = base_type(attr)
    if ocsf_type == "object_t":
        if attr.get("object_type") == "object":  # free-form (unmapped): a map or a struct
            if not (pa.types.is_map(kind) or pa.types.is_struct(kind)):
                yield f"{where}: free-form object, Arrow {kind}"
            return
        if not pa.types.is_struct(kind):
            yield f"{where}: OCSF object {attr.get('object_type')}, Arrow {kind}"
            return
        yield from check_struct(kind, ocsf()["objects"][attr["object_type"]]["attributes"], where)
    elif ocsf_type in ("integer_t", "long_t"):
        if not pa.types.is_integer(kind) or (ocsf_type == "long_t" and kind.bit_width < 64):
            yield f"{where}: OCSF {attr.get('type')}, Arrow {kind}"
    elif ocsf_type in ("string_t", "json_t"):  # json_t: the JSON (or the source's) text
        if not pa.types.is_string(kind):
            yield f"{where}: OCSF {attr.get('type')}, Arrow {kind}"
    elif ocsf_type == "boolean_t":
        if not pa.types.is_boolean(kind):
            yield f"{where}: OCSF boolean, Arrow {kind}"
    else:
        yield f"{where}: OCSF type {attr.get('type')} not handled by this test"


def check_struct(kind: pa.StructType, attributes: Mapping[str, Any], where: str) -> Iterator[str]:
    names = {kind.field(i).name for i in range(kind.num_fields)}
    for name in names:
        attr = attributes.get(name)
        if attr is None:
            yield f"{where}.{name}: not an attribute in OCSF {OCSF_VERSION}"
        elif not applies(attr):
            yield f"{where}.{name}: from profile {attr['profile']}, which the records do not declare"
        else:
            yield from check_field(kind.field(name), attr, f"{where}.{name}")
    for name, attr in attributes.items():  # an object we fill must carry what OCSF requires of it
        if attr.get("requirement") == "required" and applies(attr) and name not in names:
            yield f"{where}.{name}: required, missing from the Arrow schema"


@pytest.mark.parametrize("key", sorted(SCHEMAS))
def test_arrow_schema_matches_the_ocsf_class(key: str) -> None:
    spec = class_spec(key)
    assert spec["uid"] == CLASSES[key].uid and spec["caption"] == CLASSES[key].name
    if key != "base_event":
        assert spec["category_uid"] == CLASSES[key].category_uid
        assert spec["category_name"] == CLASSES[key].category_name
    problems = list(check_struct(pa.struct(list(SCHEMAS[key])), spec["attributes"], key))
    assert not problems, "\n".join(problems)


def test_the_schema_check_catches_a_wrong_field() -> None:
    """A test that cannot fail is a defect: an invented attribute, a wrong type and a missing required one."""
    spec = class_spec("authentication")["attributes"]
    bad = pa.struct([pa.field("user", pa.string()), pa.field("logon_kind", pa.int32()),
                     pa.field("device", pa.struct([pa.field("type_id", pa.int32())]))])
    problems = "\n".join(check_struct(bad, spec, "authentication"))
    assert "authentication.user: OCSF object user, Arrow string" in problems
    assert "logon_kind: not an attribute" in problems
    assert "device: from profile host" in problems
    assert "authentication.time: required, missing" in problems


# --- records of a written day


def required_missing(record: Mapping[str, Any], attributes: Mapping[str, Any], where: str,
                     constraints: Mapping[str, Any] | None = None, constrained: bool = False) -> Iterator[str]:
    """Required attributes left empty and enum values outside their enum, recursively; ``constrained``: also the
    objects' constraints (e.g. a device needs at least one of ip/hostname/…), ``constraints`` this object's."""
    for rule, names in (constraints or {}).items() if constrained else ():
        present = [n for n in names if record.get(n) not in (None, "", [])]
        if rule == "at_least_one" and not present:
            yield f"{where}: needs at least one of {names}"
        elif rule == "just_one" and len(present) != 1:
            yield f"{where}: needs exactly one of {names}, has {present}"
    for name, attr in attributes.items():
        if not applies(attr):
            continue
        value = record.get(name)
        if attr.get("requirement") == "required" and value in (None, ""):
            yield f"{where}.{name}: required, empty"
        enum = attr.get("enum")
        if enum and value is not None and not attr.get("is_array") and str(value) not in enum:
            yield f"{where}.{name}: {value} not in its enum"
        if value is not None and base_type(attr) == "object_t" and attr.get("object_type") != "object":
            sub = ocsf()["objects"][attr["object_type"]]
            for i, item in enumerate(value if attr.get("is_array") else [value]):
                yield from required_missing(item, sub["attributes"], f"{where}.{name}[{i}]", sub.get("constraints"),
                                            constrained)


@pytest.fixture(scope="module")
def written_day(tmp_path_factory: pytest.TempPathFactory) -> WrittenDay:
    root = tmp_path_factory.mktemp("lake")
    events, verdicts = day_rows(600)
    alerts, incidents = alert_and_incident_rows()
    settings = Settings(ARCHIVE_REGION="eu-west-1", ARCHIVE_ACCOUNT_ID="123456789012", ARCHIVE_CLOUD_PROVIDER="AWS",
                        ARCHIVE_ROWS_PER_FILE=150)
    archiver = make_archiver(str(root), settings)
    assert archiver.archive("events", DAY, iter(events)).rows == len(events)
    assert archiver.archive("verdicts", DAY, iter(verdicts)).rows == len(verdicts)
    assert archiver.archive("alerts", DAY, iter(alerts)).rows == len(alerts)
    assert archiver.archive("incidents", DAY, iter(incidents)).rows == len(incidents)
    return root, {"events": events, "verdicts": verdicts, "alerts": alerts, "incidents": incidents}


def test_files_follow_the_security_lake_layout(written_day: WrittenDay) -> None:
    root = written_day[0]
    files = sorted(p.relative_to(root).as_posix() for p in root.rglob("*.parquet"))
    sources = {f.split("/")[1] for f in files}
    assert sources >= {"secustream-authentication", "secustream-process-activity", "secustream-network-activity",
                       "secustream-file-activity", "secustream-dns-activity", "secustream-http-activity",
                       "secustream-detection-finding", "secustream-incident-finding", "secustream-base-event"}
    for f in files:
        parts = f.split("/")
        assert parts[0] == "ext" and parts[2:5] == ["region=eu-west-1", "accountId=123456789012", "eventDay=20261102"]
        assert parts[5].startswith(("events-", "verdicts-", "alerts-", "incidents-")) and "-20261102-" in parts[5], f
    assert not list(root.rglob("_tmp-*")), "temporary files left behind"
    assert any(f.endswith("-0002.parquet") for f in files), "ARCHIVE_ROWS_PER_FILE=150 should split a class"


def checked_records(root: Path, constrained: bool = False) -> dict[str, int]:
    """Every record of the Parquet files under ``root`` against its class; records checked per class."""
    checked: dict[str, int] = {}
    for path in root.rglob("*.parquet"):
        table = pq.read_table(path)
        key = table.schema.metadata[b"ocsf_class"].decode()
        assert table.schema.equals(SCHEMAS[key], check_metadata=False)
        spec = class_spec(key)
        for record in table.to_pylist():
            problems = list(required_missing(record, spec["attributes"], key, constrained=constrained))
            assert not problems, "\n".join(problems)
            assert record["class_uid"] == spec["uid"]
            assert record["type_uid"] == spec["uid"] * 100 + record["activity_id"]
            assert record["metadata"]["version"] == OCSF_VERSION
            assert record["metadata"]["profiles"] == list(PROFILES)
            assert record["cloud"] == {"provider": "AWS", "region": "eu-west-1", "account": {"uid": "123456789012"}}
            checked[key] = checked.get(key, 0) + 1
    return checked


# Classes only Windows events reach (by channel and event id): the OTRF test day below covers them.
WINDOWS_ONLY = {"module_activity", "scheduled_job_activity", "registry_key_activity", "registry_value_activity",
                "account_change", "authorize_session", "group_management"}


def test_every_record_carries_what_its_class_requires(written_day: WrittenDay) -> None:
    checked = checked_records(written_day[0])
    missing = set(SCHEMAS) - set(checked)
    assert missing == WINDOWS_ONLY, f"classes without a record in the test day: {missing - WINDOWS_ONLY}"


def strip_none(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: strip_none(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        if value and all(isinstance(v, tuple) and len(v) == 2 for v in value):  # a Parquet map read back
            return {k: strip_none(v) for k, v in value}
        return [strip_none(v) for v in value]
    return value


def test_records_survive_parquet_whole_and_give_their_rows_back(written_day: WrittenDay) -> None:
    """No attribute is dropped on the way into Parquet, and ``row_of`` returns every row exactly."""
    root, tables = written_day
    mappers = {"events": lambda r: event_record(r, ORIGIN), "verdicts": lambda r: verdict_record(r, ORIGIN,
               RiskLevel.MEDIUM), "alerts": lambda r: alert_record(r, ORIGIN),
               "incidents": lambda r: incident_record(r, ORIGIN)}
    expected = {}
    for table, rows in tables.items():
        for row in rows:
            record = mappers[table](row)[1]
            expected[(table, record["metadata"]["uid"])] = (record, row)
    seen = 0
    for path in root.rglob("*.parquet"):
        for back in pq.read_table(path).to_pylist():
            table, row = row_of(back)
            record, original = expected[(table, back["metadata"]["uid"])]
            assert strip_none(back) == strip_none(record)
            assert canonical_json({k: v for k, v in row.items() if k != "payload"}) == canonical_json(
                {k: v for k, v in original.items() if k != "payload"})
            if table == "events":
                assert row["payload"] == original["payload"]
            seen += 1
    assert seen == sum(len(rows) for rows in tables.values()) == len(expected)


def test_classes_and_activities_of_known_shapes() -> None:
    events, verdicts = day_rows(0)
    got = [(event_record(r, ORIGIN)[0], event_record(r, ORIGIN)[1]["activity_name"]) for r in events]
    assert got == [("process_activity", "Launch"), ("base_event", "Unknown"), ("file_activity", "Rename"),
                   ("base_event", "Unknown"), ("base_event", "Other"), ("network_activity", "Refuse"),
                   ("dns_activity", "Query"), ("authentication", "Unknown"), ("base_event", "Unknown")]
    process = event_record(events[0], ORIGIN)[1]
    assert process["process"]["pid"] is None  # beyond int64; raw_data keeps it
    assert json.loads(process["raw_data"])["process"]["pid"] == 2**70
    assert process["process"]["file"]["name"] == "x.exe"
    finding = [verdict_record(r, ORIGIN, RiskLevel.HIGH) for r in verdicts]
    assert {k for k, _r in finding} == {"detection_finding", "base_event"}
    for key, record in finding:
        level = json.loads(record["unmapped"]["secustream.row"])["risk_level"]
        assert (key == "detection_finding") == (level in ("high", "critical"))


def test_a_wfp_connection_names_its_initiator_as_the_source_endpoint() -> None:
    """OCSF's src_endpoint is the initiator. A real domain controller's inbound DNS over UDP (OTRF) is recorded from
    its own side (``172.18.38.5:53 -> 172.18.39.5:49713``); an inbound TCP connection from the client's (as in most
    real WFP records). Rows stored before the normaliser read WFP records as connections map the same (``unmapped``)."""
    def record(**data: Any) -> dict[str, Any]:
        event = normalize_windows(json.dumps({"EventID": 5156, "Channel": "Security", "Hostname": "DC01.corp.local",
                                              "TimeCreated": "2026-03-02T10:00:00Z", "Protocol": "17", **data}))
        key, found = event_record(events_row(event, None, 1), ORIGIN)
        assert key == "network_activity"
        return found
    udp = record(Direction="%%14592", SourceAddress="172.18.38.5", SourcePort="53", DestAddress="172.18.39.5",
                 DestPort="49713")
    assert (udp["src_endpoint"]["ip"], udp["dst_endpoint"]["port"]) == ("172.18.39.5", 53)
    assert udp["connection_info"]["direction"] == "Inbound"
    tcp = record(Direction="%%14592", SourceAddress="10.0.0.7", SourcePort="56256", DestAddress="10.0.0.1",
                 DestPort="389", Protocol="6")
    assert (tcp["src_endpoint"]["ip"], tcp["dst_endpoint"]["ip"], tcp["connection_info"]["protocol_name"]) == (
        "10.0.0.7", "10.0.0.1", "tcp")


def test_a_payload_that_is_no_longer_a_valid_event_is_still_archived_whole() -> None:
    events, _verdicts = day_rows(0)
    row = {**events[0], "payload": json.dumps({"event_type": "gone", "x": 1})}
    key, record = event_record(row, ORIGIN)
    assert key == "base_event" and json.loads(record["raw_data"]) == {"event_type": "gone", "x": 1}
    assert row_of(record)[1]["payload"] == {"event_type": "gone", "x": 1}


def test_json_list_columns_read_as_text_still_map() -> None:
    """SQLite through a plain query hands JSON columns over as text: the finding must not split it into letters."""
    _events, verdicts = day_rows(0)
    row = {**verdicts[1], "risk_level": "critical", "mitre_ids": '["T1110", "T1021.004"]', "rule_ids": '["r-1"]'}
    _key, record = verdict_record(row, ORIGIN, RiskLevel.MEDIUM)
    info = record["finding_info"]
    assert [a["technique"]["uid"] for a in info["attacks"]] == ["T1110", "T1021.004"]
    assert info["analytic"]["uid"] == "r-1"


# --- real Windows events (OTRF recordings, read in place; under CI a missing corpus fails)

# Recordings holding, between them, every event id below (the smallest that do).
OTRF_RECORDINGS = (
    "discovery/host/cmd_discover_iexplorer_version_registry.zip",
    "credential_access/host/psh_windows_vault_web_credentials.zip",
    "lateral_movement/host/schtask_create.zip", "lateral_movement/host/schtask_modification.zip",
    "credential_access/host/empire_shell_rubeus_asktgt_createnetonly.zip",
    "defense_evasion/host/psh_metasploit_stop_netprofm_eventlog_before_reboot.zip",
    "lateral_movement/host/covenant_sharpsc_stop_dcerpc_smb_svcctl.zip",
    "defense_evasion/host/empire_wmic_add_user_backdoor.zip",
    "defense_evasion/host/reg_disable_eventlog_service_startuptype_modification_via_registry.zip",
    "lateral_movement/host/covenant_copy_smb_CreateRequest.zip",
    "lateral_movement/host/covenant_sharpsc_query_dcerpc_smb_svcctl.zip",
    "persistence/host/cmd_userinitmprlogonscript_batch.zip",
    "credential_access/host/cmd_dumping_ntds_dit_file_ntdsutil.zip",
    "credential_access/host/cmd_psexec_lsa_secrets_dump.zip", "defense_evasion/host/cmd_mshta_vbscript_execute_psh.zip",
    "lateral_movement/host/empire_dcom_shellwindows_stager.zip",
    "lateral_movement/host/covenant_dcom_iertutil_dll_hijack.zip",
)
_FILE, _KEY, _VALUE = "file_activity", "registry_key_activity", "registry_value_activity"
_JOB = "scheduled_job_activity"
# (channel, event id) → the classes its events may map to (several where the event's fields decide) and, where
# the event id alone decides it, the activity id.
OTRF_EXPECTED: dict[tuple[str, int], tuple[set[str], int | None]] = {
    ("sysmon", 2): ({_FILE}, 6), ("sysmon", 5): ({"process_activity"}, 2), ("sysmon", 7): ({"module_activity"}, 1),
    ("sysmon", 8): ({"process_activity"}, 4), ("sysmon", 9): ({_FILE}, 2), ("sysmon", 10): ({"process_activity"}, 3),
    ("sysmon", 11): ({_FILE}, 1), ("sysmon", 12): ({_KEY, _VALUE}, None), ("sysmon", 13): ({_VALUE}, 2),
    ("sysmon", 14): ({_KEY}, 5), ("sysmon", 15): ({_FILE}, 1), ("sysmon", 17): ({_FILE}, 1),
    ("sysmon", 18): ({_FILE}, 14),
    ("sysmon", 23): ({_FILE}, 4), ("sysmon", 26): ({_FILE}, 4),
    ("security", 4656): ({_FILE, _KEY, "base_event"}, None), ("security", 4663): ({_FILE, _KEY, "base_event"}, None),
    ("security", 4657): ({_VALUE}, None), ("security", 4672): ({"authorize_session"}, 1),
    ("security", 4627): ({"authorize_session"}, 2), ("security", 4689): ({"process_activity"}, 2),
    ("security", 4698): ({_JOB}, 1), ("security", 4699): ({_JOB}, 3), ("security", 4700): ({_JOB}, 4),
    ("security", 4702): ({_JOB}, 2), ("security", 5152): ({"network_activity"}, 5),
    ("security", 5156): ({"network_activity"}, 1), ("security", 5157): ({"network_activity"}, 5),
    ("security", 4720): ({"account_change"}, 1), ("security", 4724): ({"account_change"}, 4),
    ("security", 4726): ({"account_change"}, 6), ("security", 4728): ({"group_management"}, 3),
    ("security", 4729): ({"group_management"}, 4),
    **{("taskscheduler", i): ({_JOB}, a) for i, a in ((100, 6), (102, 99), (106, 1), (129, 6), (140, 2), (141, 3),
                                                        (200, 6), (201, 99))},
    ("powershell", 4104): ({"base_event"}, 99),
}
PER_ID = 5  # events of one id taken from one recording


def channel_kind(channel: str) -> str:
    text = channel.lower()
    return next((k for k in ("sysmon", "taskscheduler", "powershell") if k in text), text)


@pytest.fixture(scope="module")
def otrf_events() -> list[tuple[tuple[str, int], SecurityEvent]]:
    """Real events of every id in ``OTRF_EXPECTED``, normalised as ``secustream ingest`` does."""
    from tests.corpora import OTRF, otrf_lines, require

    events: list[tuple[tuple[str, int], SecurityEvent]] = []
    for name in OTRF_RECORDINGS:
        taken: dict[tuple[str, int], int] = {}
        for line in otrf_lines(require(OTRF / name)):
            try:  # a few lines of the recordings are not JSON (the normaliser refuses them)
                doc = json.loads(line)
                key = (channel_kind(str(doc.get("Channel") or "")), int(doc.get("EventID")))
            except (TypeError, ValueError, AttributeError):
                continue
            if key in OTRF_EXPECTED and taken.get(key, 0) < PER_ID:
                taken[key] = taken.get(key, 0) + 1
                events.append((key, normalize_windows(line)))
    missing = set(OTRF_EXPECTED) - {key for key, _e in events}
    assert not missing, f"event ids not found in the OTRF recordings: {sorted(missing)}"
    return events


def test_windows_events_map_to_their_class_with_what_it_requires(
        otrf_events: list[tuple[tuple[str, int], SecurityEvent]]) -> None:
    """Every required attribute filled, objects' constraints met (a device names a host, an actor a process or
    a user, …), enum values inside their enums, and the class and activity each event id should have."""
    classes: dict[str, int] = {}
    for n, (key, event) in enumerate(otrf_events):
        cls, record = event_record(events_row(event, None, n), ORIGIN)
        allowed, activity = OTRF_EXPECTED[key]
        assert cls in allowed, (key, cls)
        if activity is not None:
            assert record["activity_id"] == activity, (key, record["activity_name"])
        spec = class_spec(cls)
        problems = list(required_missing(record, spec["attributes"], f"{key} {cls}", constrained=True))
        assert not problems, "\n".join(problems)
        assert record["type_uid"] == spec["uid"] * 100 + record["activity_id"]
        captions = spec["attributes"]["activity_id"]["enum"]
        assert record["activity_name"] == captions[str(record["activity_id"])]["caption"]
        classes[cls] = classes.get(cls, 0) + 1
    assert set(classes) >= WINDOWS_ONLY, f"no OTRF event reached {WINDOWS_ONLY - set(classes)}"


def test_windows_events_survive_an_archived_day(otrf_events: list[tuple[tuple[str, int], SecurityEvent]],
                                                tmp_path: Path) -> None:
    """Written, read back and checked like any day: the files validate, every row comes back exactly."""
    rows = [events_row(event.model_copy(update={"timestamp": datetime(2026, 11, 2, 12, tzinfo=UTC)}), None, n)
            for n, (_key, event) in enumerate(otrf_events)]
    settings = Settings(ARCHIVE_REGION="eu-west-1", ARCHIVE_ACCOUNT_ID="123456789012", ARCHIVE_CLOUD_PROVIDER="AWS")
    assert make_archiver(str(tmp_path), settings).archive("events", DAY, iter(rows)).rows == len(rows)
    checked = checked_records(tmp_path, constrained=False)
    assert set(checked) >= WINDOWS_ONLY and sum(checked.values()) == len(rows)
    by_id = {str(r["id"]): r for r in rows}
    for path in tmp_path.rglob("*.parquet"):
        for back in pq.read_table(path).to_pylist():
            _table, row = row_of(back)
            assert row["payload"] == by_id[back["metadata"]["uid"]]["payload"]
