"""SecuStreamAI Kopf operator: reconciles SecuStreamPipeline resources into workloads.

Builders (``builders``) are pure functions from a pipeline spec to manifests; ``handlers`` only
applies them, repairs drift, autoscales the analyzer and reports status.
"""

GROUP = "secustream.io"
VERSION = "v1alpha1"
PLURAL = "secustreampipelines"
KIND = "SecuStreamPipeline"
MANAGED_BY = "secustream-operator"
