"""``python -m bench [SUITE] [--quick]``: run a benchmark (embedded by default), print a table."""

from __future__ import annotations

import argparse
import sys

from bench import embedded


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument(
        "suite",
        nargs="?",
        default="embedded",
        choices=[
            "embedded",
            "embedded-targets",
            "operator",
            "kubernetes",
            "realcluster",
            "realcluster-operator",
        ],
        help="what to measure",
    )
    parser.add_argument(
        "--quick", action="store_true", help="fewer repetitions and shorter windows"
    )
    parser.add_argument(
        "--only",
        choices=["frames"],
        default="",
        help="embedded: one phase only (frames: POST -> running with frame > 0, the servers"
        " taking turns start by start)",
    )
    parser.add_argument(
        "--starts", type=int, default=0, metavar="N", help="embedded: POST -> frames repetitions"
    )
    reference = parser.add_argument_group(
        "side by side (embedded)", "the same HTTP harness against a reference server as well"
    )
    reference.add_argument("--core", metavar="BINARY", help="start datarhei Core from BINARY")
    reference.add_argument("--reference-url", metavar="URL", help="a running reference server")
    reference.add_argument("--reference-pid", metavar="PID", type=int, help="its process ID")
    reference.add_argument(
        "--reference-cmd",
        metavar="CMD",
        help="start the reference with CMD ({port} and {dir} are filled in); with --reference-url"
        " unset the URL is http://127.0.0.1:{port}",
    )
    args = parser.parse_args(argv)
    if args.suite == "operator":
        # Imported on demand: it needs the test API server (tests/kube) and kopf.
        from bench import operator

        return operator.main(quick=args.quick)
    if args.suite == "kubernetes":
        # The API's Kubernetes backend, in the tests' Kubernetes stand-in (tests/kubeenv.py).
        from bench import kubernetes

        return kubernetes.main(quick=args.quick)
    if args.suite == "realcluster":
        # The same figures on the local cluster of tests/cluster (make cluster-up cluster-images).
        from bench import realcluster

        return realcluster.main(quick=args.quick)
    if args.suite == "realcluster-operator":
        # bench operator's (a)/(b) on the local cluster's apiserver (make cluster-up).
        from bench import realoperator

        return realoperator.main(quick=args.quick)
    if args.suite == "embedded-targets":
        return embedded.main(quick=args.quick)
    from bench import sidebyside

    chosen = None
    if args.core or args.reference_cmd or args.reference_url:
        if args.reference_url and not args.reference_pid:
            parser.error("--reference-url needs --reference-pid (its CPU and memory are read)")
        chosen = sidebyside.Reference(
            url=args.reference_url or "",
            pid=args.reference_pid or 0,
            cmd=args.reference_cmd or "",
            core=args.core or "",
        )
    return sidebyside.main(chosen, quick=args.quick, only=args.only, starts=args.starts)


if __name__ == "__main__":
    sys.exit(main())
