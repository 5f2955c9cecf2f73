"""``python -m regionlab.streaming PRODUCT [--queue Q] [--idle-exit S] [--max-events N]``.

A lean consumer entry point (no CLI framework, no Dagster) for tests and the benchmark;
``regionlab stream consume`` is the steward's command.
"""

from __future__ import annotations

import argparse
import json

from regionlab.settings import get_settings
from regionlab.spec import load_domains
from regionlab.streaming.consumer import consume


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m regionlab.streaming")
    parser.add_argument("product")
    parser.add_argument("--queue")
    parser.add_argument("--idle-exit", type=float, default=None)
    parser.add_argument("--max-seconds", type=float, default=None)
    parser.add_argument("--max-events", type=int, default=None)
    args = parser.parse_args()
    product = load_domains().product(args.product)
    summary = consume(
        product,
        get_settings(),
        queue=args.queue,
        idle_exit_seconds=args.idle_exit,
        max_seconds=args.max_seconds,
        max_events=args.max_events,
    )
    print(json.dumps({k: v for k, v in vars(summary).items() if k != "lags"}))


if __name__ == "__main__":
    main()
