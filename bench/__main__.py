"""``python -m bench [embedded] [--quick]``: run a benchmark and print its table."""

from __future__ import annotations

import argparse
import sys

from bench import embedded


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument(
        "suite", nargs="?", default="embedded", choices=["embedded"], help="what to measure"
    )
    parser.add_argument(
        "--quick", action="store_true", help="fewer repetitions and a shorter CPU window"
    )
    args = parser.parse_args(argv)
    return embedded.main(quick=args.quick)


if __name__ == "__main__":
    sys.exit(main())
