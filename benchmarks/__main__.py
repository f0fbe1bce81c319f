"""Run the benchmarks and write docs/BENCHMARKS.md.

Each benchmark owns one section of the report, opened by a marker line
``<!-- benchmark:NAME -->``. A run of some benchmarks (``--only``) rewrites
their sections and keeps the others' text as the report held it.
"""

from __future__ import annotations

import argparse
import asyncio
import re
from collections.abc import Awaitable, Callable
from pathlib import Path

from benchmarks import intake_scaling, list_scaling, review_scaling

REPORT = Path(__file__).resolve().parents[1] / "docs" / "BENCHMARKS.md"
NAMES = ("list_scaling", "review_scaling", "intake_scaling")
HEADER = """# Benchmarks

Run with `make bench` (`python -m benchmarks`); it rewrites this page.
`python -m benchmarks --only review_scaling` runs one benchmark and keeps
the other sections as they were. Machines differ, so the page gives ratios
measured in one run, never absolute times.
"""
_MARKER = re.compile(r"^<!-- benchmark:(\w+) -->\n", re.M)


def marker(name: str) -> str:
    """Return the line that opens the section of benchmark ``name``."""
    return f"<!-- benchmark:{name} -->\n"


def read_sections(report: str) -> dict[str, str]:
    """Return the text of each marked section of ``report``, by benchmark name."""
    found = list(_MARKER.finditer(report))
    sections = {}
    for index, match in enumerate(found):
        end = found[index + 1].start() if index + 1 < len(found) else len(report)
        sections[match.group(1)] = report[match.end() : end].strip("\n")
    return sections


def merge_report(old: str, fresh: dict[str, str]) -> str:
    """Return the report with ``fresh`` sections, the others kept from ``old``.

    Sections come in the order of :data:`NAMES`, then any unknown ones as found.
    """
    sections = read_sections(old)
    sections.update({name: text.strip("\n") for name, text in fresh.items()})
    order = [name for name in NAMES if name in sections]
    order += [name for name in sections if name not in NAMES]
    parts = [HEADER, *(marker(name) + sections[name] + "\n" for name in order)]
    return "\n".join(parts)


def parse_options(argv: list[str] | None = None) -> argparse.Namespace:
    """Return the command line's options."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks")
    parser.add_argument("--only", nargs="+", choices=NAMES, default=list(NAMES))
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--small-rows", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--review-repeats", type=int, default=15)
    parser.add_argument("--queue-depth", type=int, default=intake_scaling.DEPTH)
    parser.add_argument("--deliveries", type=int, default=300)
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--report", type=Path, default=REPORT)
    return parser.parse_args(argv)


async def run_list_scaling(options: argparse.Namespace) -> str:
    """Run the read API benchmark and return its section."""
    sections = await list_scaling.run(
        rows=options.rows,
        small_rows=options.small_rows,
        repeats=options.repeats,
        postgres=not options.no_postgres,
    )
    return list_scaling.render_section(sections)


async def run_review_scaling(options: argparse.Namespace) -> str:
    """Run the review engines benchmark and return its section."""
    measured = await review_scaling.run(repeats=options.review_repeats)
    return review_scaling.render_section(measured, options.review_repeats)


async def run_intake_scaling(options: argparse.Namespace) -> str:
    """Run the webhook intake benchmark and return its section."""
    sections = await intake_scaling.run(
        depth=options.queue_depth,
        requests=options.deliveries,
        postgres=not options.no_postgres,
    )
    return intake_scaling.render_section(sections, options.deliveries)


RUNNERS: dict[str, Callable[[argparse.Namespace], Awaitable[str]]] = {
    "list_scaling": run_list_scaling,
    "review_scaling": run_review_scaling,
    "intake_scaling": run_intake_scaling,
}


async def run_selected(options: argparse.Namespace) -> dict[str, str]:
    """Run the benchmarks named by ``--only``, in the order of :data:`NAMES`."""
    fresh = {}
    for name in NAMES:
        if name in options.only:
            print(f"running {name}")
            fresh[name] = await RUNNERS[name](options)
    return fresh


def main() -> None:
    """Parse the options, run the chosen benchmarks and write the report."""
    options = parse_options()
    fresh = asyncio.run(run_selected(options))
    old = options.report.read_text() if options.report.exists() else ""
    options.report.write_text(merge_report(old, fresh))
    print(f"wrote {options.report}")


if __name__ == "__main__":
    main()
