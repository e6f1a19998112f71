"""The storage maintenance CronJob: ``secustream partitions ensure``, then ``secustream retention run``.

Why one job, partitions first (an init container): the pipeline's writes need tomorrow's partition, and
retention's drops need last month's archived; both are short, nightly and touch the same tables, so they
run one after the other, never concurrently (``concurrencyPolicy: Forbid``). The job needs no Kubernetes
API: its pod mounts no service-account token and is bound to no Role. With no ``archive.url`` and no
``dropUnarchived`` the retention step is a dry run (it reports what would go), because nothing may be
dropped unarchived by default.
"""

from __future__ import annotations

from typing import Any

from secustream_operator.builders import common
from secustream_operator.builders.common import Context
from secustream_operator.builders.workloads import data_env

TABLES = ("events", "verdicts", "alerts", "incidents")


def retention_mode(retention: dict[str, Any]) -> list[str]:
    """Arguments of ``retention run``: archive to ARCHIVE_URL, drop unarchived, or only report."""
    if retention["archive"].get("url"):
        return []  # retention run archives to ARCHIVE_URL (env)
    if retention.get("dropUnarchived"):
        return ["--no-archive"]
    return ["--dry-run"]


def retention_env(retention: dict[str, Any]) -> list[dict[str, Any]]:
    """RETENTION_*_DAYS, PARTITION_DAYS_AHEAD and ARCHIVE_* (names the settings contract test checks)."""
    archive = retention["archive"]
    values = {
        **{f"RETENTION_{t.upper()}_DAYS": retention["days"][t] for t in TABLES},
        "PARTITION_DAYS_AHEAD": retention["partitionDaysAhead"],
        "ARCHIVE_URL": archive.get("url") or "",
        "ARCHIVE_SOURCE": archive["source"],
        "ARCHIVE_REGION": archive["region"],
        "ARCHIVE_ACCOUNT_ID": archive["accountId"],
        "ARCHIVE_CLOUD_PROVIDER": archive["cloudProvider"],
        "ARCHIVE_FINDING_MIN_LEVEL": archive["findingMinLevel"],
        "ARCHIVE_ROWS_PER_FILE": archive["rowsPerFile"],
    }
    return [{"name": k, "value": str(v)} for k, v in values.items()]


def build_retention(ctx: Context) -> list[dict[str, Any]]:
    retention = ctx.spec["retention"]
    if not retention["enabled"]:
        return []
    env = [*data_env(ctx.spec), *retention_env(retention)]
    ensure = common.container(ctx, "partitions", ["partitions", "ensure", "--days-ahead",
                                                   str(retention["partitionDaysAhead"])], list(env), "retention", [])
    run = common.container(ctx, "retention", ["retention", "run", *retention_mode(retention)], list(env),
                           "retention", [])
    creds = retention["archive"].get("credentialsSecretRef") or {}
    if creds.get("name"):  # the object store's own variables (AWS_*, …), read by fsspec, not by Settings
        run["envFrom"] = [*run["envFrom"], {"secretRef": {"name": creds["name"]}}]
    extra: dict[str, Any] = {"restartPolicy": "OnFailure", "initContainers": [ensure]}
    if retention.get("serviceAccountName"):
        extra["serviceAccountName"] = retention["serviceAccountName"]
    template = common.pod_template(ctx, "retention", [run], [], extra)
    return [{
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": ctx.meta("retention"),
        "spec": {
            "schedule": retention["schedule"],
            "concurrencyPolicy": "Forbid",
            "startingDeadlineSeconds": 3600,
            "successfulJobsHistoryLimit": 3,
            "failedJobsHistoryLimit": 3,
            "jobTemplate": {"spec": {"backoffLimit": 2, "activeDeadlineSeconds": 20 * 3600, "template": template}},
        },
    }]
