"""The storage maintenance CronJob from ``spec.retention``: partitions first, then retention; never a drop
without an archive unless the spec says so; restricted, without an API token; rejected when contradictory."""

from __future__ import annotations

from typing import Any

import pytest

from secustream_operator import builders
from secustream_operator.spec import SpecError, normalise
from tests.operator import crdschema
from tests.operator.specs import spec


def cronjob(raw: dict[str, Any]) -> dict[str, Any] | None:
    children = builders.build_children("demo", "ns1", normalise(raw))
    return next((c for c in children if c["metadata"]["name"] == "demo-retention"), None)


def pod(job: dict[str, Any]) -> dict[str, Any]:
    return job["spec"]["jobTemplate"]["spec"]["template"]["spec"]


def env(container: dict[str, Any]) -> dict[str, str]:
    return {e["name"]: e.get("value", "<secret>") for e in container["env"]}


def test_default_spec_maintains_partitions_and_only_reports_retention() -> None:
    job = cronjob(spec())
    assert job is not None and job["kind"] == "CronJob"
    assert job["spec"]["schedule"] == "15 1 * * *" and job["spec"]["concurrencyPolicy"] == "Forbid"
    p = pod(job)
    (ensure,), (run,) = p["initContainers"], p["containers"]
    assert ensure["args"] == ["partitions", "ensure", "--days-ahead", "7"]
    assert run["args"] == ["retention", "run", "--dry-run"], "no archive configured: nothing may be dropped"
    assert p["restartPolicy"] == "OnFailure" and p["automountServiceAccountToken"] is False
    assert "serviceAccountName" not in p
    values = env(run)
    assert values["DATABASE_URL"] == "<secret>"
    assert {k: values[k] for k in ("RETENTION_EVENTS_DAYS", "RETENTION_VERDICTS_DAYS", "RETENTION_ALERTS_DAYS",
                                   "RETENTION_INCIDENTS_DAYS", "ARCHIVE_URL")} == {
        "RETENTION_EVENTS_DAYS": "30", "RETENTION_VERDICTS_DAYS": "90", "RETENTION_ALERTS_DAYS": "365",
        "RETENTION_INCIDENTS_DAYS": "365", "ARCHIVE_URL": ""}
    assert run["env"] is not ensure["env"]


def test_an_archive_url_archives_before_each_drop() -> None:
    job = cronjob(spec(**{"retention.schedule": "0 4 * * 0", "retention.partitionDaysAhead": 14,
                          "retention.days": {"events": 7},
                          "retention.archive": {"url": "s3://lake/prefix", "region": "eu-west-1",
                                                "accountId": "123456789012", "cloudProvider": "AWS",
                                                "credentialsSecretRef": {"name": "lake-creds"}},
                          "retention.serviceAccountName": "lake-writer"}))
    assert job is not None and job["spec"]["schedule"] == "0 4 * * 0"
    p = pod(job)
    (ensure,), (run,) = p["initContainers"], p["containers"]
    assert ensure["args"][-1] == "14"
    assert run["args"] == ["retention", "run"]  # archives to ARCHIVE_URL, drops only on a matching receipt
    values = env(run)
    assert values["ARCHIVE_URL"] == "s3://lake/prefix" and values["ARCHIVE_REGION"] == "eu-west-1"
    assert values["ARCHIVE_ACCOUNT_ID"] == "123456789012" and values["ARCHIVE_CLOUD_PROVIDER"] == "AWS"
    assert values["RETENTION_EVENTS_DAYS"] == "7" and values["RETENTION_VERDICTS_DAYS"] == "90"
    assert {"secretRef": {"name": "lake-creds"}} in run["envFrom"]
    assert not any("secretRef" in s for s in ensure["envFrom"]), "the partitions step needs no store credentials"
    assert p["serviceAccountName"] == "lake-writer" and p["automountServiceAccountToken"] is False


def test_drop_unarchived_is_spelled_out_and_excludes_an_archive(crd_schema: dict[str, Any]) -> None:
    job = cronjob(spec(**{"retention.dropUnarchived": True}))
    assert job is not None and pod(job)["containers"][0]["args"] == ["retention", "run", "--no-archive"]
    both = spec(**{"retention.dropUnarchived": True, "retention.archive": {"url": "/data/lake"}})
    with pytest.raises(SpecError, match=r"archive\.url and dropUnarchived exclude each other"):
        normalise(both)
    sample = {"apiVersion": "secustream.io/v1alpha1", "kind": "SecuStreamPipeline",
              "metadata": {"name": "demo", "namespace": "ns1"}, "spec": both}
    assert "retention.archive.url and retention.dropUnarchived exclude each other" in " ".join(
        crdschema.validate(crd_schema, sample))
    assert crdschema.validate(crd_schema, {**sample, "spec": spec(**{"retention.dropUnarchived": True})}) == []


def test_bad_retention_specs_are_refused_with_reasons() -> None:
    with pytest.raises(SpecError) as err:
        normalise(spec(**{"retention.schedule": "nightly", "retention.days": {"events": 0},
                          "retention.archive": {"region": "EU West", "findingMinLevel": "severe"}}))
    text = str(err.value)
    for reason in ("retention.schedule", "retention.days.events", "retention.archive.region",
                   "retention.archive.findingMinLevel"):
        assert reason in text


def test_disabled_retention_builds_no_job() -> None:
    assert cronjob(spec(**{"retention.enabled": False})) is None
