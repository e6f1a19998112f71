"""Arrow schemas of the OCSF classes the archive writes: fixed per class, so every day's files of a class agree.

Why fixed and not inferred: an attribute that happens to be empty all day would be inferred as ``null`` and
differ from the next day's file; query engines (Athena, DuckDB) want one schema per table. The attribute
names and types follow OCSF 1.1.0 (``integer_t`` → int32, ``long_t``/``timestamp_t`` → int64, objects →
structs, arrays → lists); ``unmapped`` is a string map, as Security Lake's own tables keep it.
tests/unit/test_archive_ocsf.py checks every field here against the schema of that OCSF version.
"""

from __future__ import annotations

import pyarrow as pa

S, I32, I64 = pa.string(), pa.int32(), pa.int64()


def _struct(**fields: pa.DataType) -> pa.StructType:
    return pa.struct([pa.field(name, kind) for name, kind in fields.items()])


ENDPOINT = _struct(ip=S, port=I32, hostname=S, domain=S)
USER = _struct(name=S, domain=S)
FINGERPRINT = _struct(algorithm_id=I32, algorithm=S, value=S)
FILE = _struct(name=S, path=S, type_id=I32, type=S, size=I64, hashes=pa.list_(FINGERPRINT))
_PROCESS_FIELDS = {"name": S, "pid": I64, "uid": S, "cmd_line": S, "file": FILE, "user": USER}  # uid: Sysmon's GUID
ACTOR_PROCESS = _struct(**_PROCESS_FIELDS)
PROCESS = _struct(**_PROCESS_FIELDS, parent_process=ACTOR_PROCESS)
ACTOR = _struct(user=USER, process=ACTOR_PROCESS)
DEVICE = _struct(type_id=I32, type=S, hostname=S, ip=S, domain=S)
PRODUCT = _struct(name=S, vendor_name=S, version=S)
METADATA = _struct(version=S, profiles=pa.list_(S), uid=S, log_name=S, correlation_uid=S, product=PRODUCT)
CLOUD = _struct(provider=S, region=S, account=_struct(uid=S))
CONNECTION_INFO = _struct(protocol_name=S, direction_id=I32, direction=S)
TRAFFIC = _struct(bytes=I64, bytes_in=I64, bytes_out=I64)
DNS_QUERY = _struct(hostname=S, type=S)
DNS_ANSWER = _struct(rdata=S)
HTTP_REQUEST = _struct(http_method=S, url=_struct(url_string=S), user_agent=S)
HTTP_RESPONSE = _struct(code=I32)
REG_KEY = _struct(path=S)
REG_VALUE = _struct(path=S, name=S, type_id=I32, type=S, data=S)  # data is json_t: its text, as Windows logs it
MODULE = _struct(file=FILE, load_type_id=I32, load_type=S)
JOB = _struct(name=S, file=FILE, cmd_line=S)
ACCOUNT = _struct(name=S, domain=S, uid=S)  # a user with its SID (the identity classes; USER stays as it was)
GROUP = _struct(name=S, domain=S, uid=S)
ANALYTIC = _struct(type_id=I32, type=S, name=S, uid=S)
ATTACK = _struct(technique=_struct(uid=S), tactic=_struct(name=S))
FINDING_INFO = _struct(uid=S, title=S, desc=S, types=pa.list_(S), created_time=I64, first_seen_time=I64,
                       last_seen_time=I64, modified_time=I64, analytic=ANALYTIC, attacks=pa.list_(ATTACK),
                       related_events=pa.list_(_struct(uid=S)))

BASE: dict[str, pa.DataType] = {
    "class_uid": I32, "class_name": S, "category_uid": I32, "category_name": S, "activity_id": I32,
    "activity_name": S, "type_uid": I64, "type_name": S, "time": I64, "severity_id": I32, "severity": S,
    "status_id": I32, "status": S, "message": S, "metadata": METADATA, "cloud": CLOUD, "raw_data": S,
    "unmapped": pa.map_(S, S),
}
_NETWORK = {"src_endpoint": ENDPOINT, "dst_endpoint": ENDPOINT}
_EXTRA: dict[str, dict[str, pa.DataType]] = {
    "authentication": {"user": USER, **_NETWORK},
    "process_activity": {"process": PROCESS, "actor": ACTOR, "device": DEVICE},
    "file_activity": {"file": FILE, "actor": ACTOR, "device": DEVICE},
    "network_activity": {**_NETWORK, "connection_info": CONNECTION_INFO, "traffic": TRAFFIC},
    "module_activity": {"module": MODULE, "actor": ACTOR, "device": DEVICE},
    "scheduled_job_activity": {"job": JOB, "actor": ACTOR, "device": DEVICE},
    "registry_key_activity": {"reg_key": REG_KEY, "prev_reg_key": REG_KEY, "access_mask": I64, "actor": ACTOR,
                              "device": DEVICE},
    "registry_value_activity": {"reg_value": REG_VALUE, "prev_reg_value": REG_VALUE, "actor": ACTOR,
                                "device": DEVICE},
    "account_change": {"user": ACCOUNT, "actor": _struct(user=ACCOUNT)},
    "authorize_session": {"user": ACCOUNT, "privileges": pa.list_(S), "session": _struct(uid=S)},
    "group_management": {"group": GROUP, "user": ACCOUNT},
    "http_activity": {**_NETWORK, "http_request": HTTP_REQUEST, "http_response": HTTP_RESPONSE, "traffic": TRAFFIC},
    "dns_activity": {**_NETWORK, "query": DNS_QUERY, "answers": pa.list_(DNS_ANSWER)},
    "detection_finding": {"finding_info": FINDING_INFO, "confidence_id": I32, "confidence": S,
                          "confidence_score": I32, "risk_level_id": I32, "risk_level": S, "risk_score": I32,
                          "count": I32},
    "incident_finding": {"finding_info_list": pa.list_(FINDING_INFO), "attacks": pa.list_(ATTACK), "desc": S,
                         "count": I32},
    "base_event": {},
}

SCHEMAS: dict[str, pa.Schema] = {
    key: pa.schema([pa.field(name, kind) for name, kind in {**BASE, **extra}.items()],
                   metadata={"ocsf_class": key})
    for key, extra in _EXTRA.items()
}
