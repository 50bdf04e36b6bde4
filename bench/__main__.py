"""``python -m bench [embedded|operator|kubernetes] [--quick]``: run a benchmark, print a table."""

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
        choices=["embedded", "operator", "kubernetes"],
        help="what to measure",
    )
    parser.add_argument(
        "--quick", action="store_true", help="fewer repetitions and shorter windows"
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
    return embedded.main(quick=args.quick)


if __name__ == "__main__":
    sys.exit(main())
