"""Nightly training CronJob (``secustream train``) and the model registry PVC.

Why: training writes new model versions into MODEL_DIR on a PVC that outlives the Job.
"""

from __future__ import annotations

from typing import Any

from secustream_operator import naming
from secustream_operator.builders import common
from secustream_operator.builders.common import MODEL_DIR, Context
from secustream_operator.builders.workloads import data_env, llm_env, model_volume


def build_training(ctx: Context) -> list[dict[str, Any]]:
    training = ctx.spec["training"]
    if not training["enabled"]:
        return []
    storage = training["storage"]
    pvc_spec: dict[str, Any] = {
        "accessModes": [storage["accessMode"]],
        "resources": {"requests": {"storage": storage["size"]}},
    }
    if storage.get("storageClassName"):
        pvc_spec["storageClassName"] = storage["storageClassName"]
    pvc = {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": ctx.meta("training",
           naming.child_name(ctx.name, "models")), "spec": pvc_spec}
    c = common.container(ctx, "train", ["train"], [*data_env(ctx.spec), *llm_env(ctx.spec)], "training",
                         [{"name": "models", "mountPath": MODEL_DIR}])
    template = common.pod_template(ctx, "training", [c], [model_volume(ctx, shared=False)],
                                   {"restartPolicy": "OnFailure"})
    cron = {
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": ctx.meta("training"),
        "spec": {
            "schedule": training["schedule"],
            "concurrencyPolicy": "Forbid",
            "startingDeadlineSeconds": 3600,
            "successfulJobsHistoryLimit": 3,
            "failedJobsHistoryLimit": 3,
            "jobTemplate": {"spec": {"backoffLimit": 2, "activeDeadlineSeconds": 6 * 3600,
                                     "template": template}},
        },
    }
    return [pvc, cron]
