"""``secustream-operator``: run the Kopf operator with liveness, metrics and peering.

Why a wrapper around ``kopf run``: the Deployment needs fixed ports, a per-pod peering priority
(two replicas with equal priority would both freeze) and the same flags in every environment.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import zlib

import kopf

from secustream_operator.settings import OperatorSettings, load_operator_settings


def peering_priority(pod_name: str) -> int:
    """A stable, per-pod priority so exactly one of the HA replicas is active."""
    return zlib.crc32(pod_name.encode()) % 10_000 + 1


def parse_args(argv: list[str] | None = None, settings: OperatorSettings | None = None) -> argparse.Namespace:
    settings = settings or load_operator_settings()
    p = argparse.ArgumentParser(prog="secustream-operator", description=__doc__)
    p.add_argument("--namespace", "-n", action="append", default=[],
                   help="watch only these namespaces (repeatable); default: all namespaces")
    p.add_argument("--liveness", default=settings.LIVENESS)
    p.add_argument("--metrics-port", type=int, default=settings.METRICS_PORT)
    p.add_argument("--peering", default=settings.PEERING)
    p.add_argument("--standalone", action="store_true", default=settings.STANDALONE,
                   help="no peering (single replica, or development)")
    p.add_argument("--priority", type=int, default=None, help="peering priority; default from POD_NAME")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    settings = load_operator_settings()
    args = parse_args(argv, settings)
    kopf.configure(verbose=settings.VERBOSE)  # `kopf run` does this
    from secustream_operator import handlers  # noqa: F401  (registers the handlers)

    priority = args.priority if args.priority is not None else peering_priority(
        settings.POD_NAME or os.uname().nodename)
    asyncio.run(kopf.operator(
        clusterwide=not args.namespace,
        namespaces=args.namespace or (),  # () with clusterwide: Kopf iterates this, None crashes it
        liveness_endpoint=args.liveness,
        standalone=args.standalone,
        peering_name=None if args.standalone else args.peering,  # a name makes peering mandatory in Kopf
        priority=priority,
        memo=kopf.Memo(metrics_port=args.metrics_port),
    ))


if __name__ == "__main__":
    main()
