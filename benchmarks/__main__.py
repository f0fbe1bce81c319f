"""Run the benchmarks and write docs/BENCHMARKS.md."""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path

from benchmarks import list_scaling

REPORT = Path(__file__).resolve().parents[1] / "docs" / "BENCHMARKS.md"


def main() -> None:
    """Parse the options, run every benchmark and write the report."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks")
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--small-rows", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--report", type=Path, default=REPORT)
    options = parser.parse_args()

    sections = asyncio.run(
        list_scaling.run(
            rows=options.rows,
            small_rows=options.small_rows,
            repeats=options.repeats,
            postgres=not options.no_postgres,
        )
    )
    options.report.write_text(list_scaling.render_report(sections))
    print(f"wrote {options.report}")


if __name__ == "__main__":
    main()
