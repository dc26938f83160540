"""Parser throughput on the real plans, side by side with bare markdown-it-py, and time
against file size.

    .venv/bin/python benchmarks/parse.py [--repeat 5] [--corpus ../shared/corpus/roo-plans]

Prints a table and writes ``benchmarks/results/parse.json``. Each figure is the median of
``--repeat`` runs; the ratio is taken from runs interleaved in the same process, so that a
noisy machine affects both sides alike.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable
from pathlib import Path

from markdown_it import MarkdownIt

from sync_engine.parsing import parse_plan

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"


def _time(function: Callable[[], object]) -> float:
    start = time.perf_counter()
    function()
    return time.perf_counter() - start


def _synthetic_plan(tasks: int) -> bytes:
    lines = [
        "# Plan de développement v1 - Synthèse",
        "",
        "**Version 1.0 - 2025-06-13 - Progression: 40%**",
        "",
    ]
    for index in range(tasks):
        if index % 60 == 0:
            lines += ["", f"## Phase {index // 60 + 1}: Étape", "", "*Progression: 40%*", ""]
        depth = index % 4
        lines.append(
            "  " * depth + f"- [{'x' if index % 5 < 2 else ' '}] **{index}.1** "
            f"Tâche numéro {index} avec du texte réaliste 🚀 (2h)"
        )
        if index % 25 == 0:
            lines += ["", "```bash", "go test ./...", "```", ""]
    return ("\n".join(lines) + "\n").encode()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--corpus", type=Path, default=ROOT.parent / "shared/corpus/roo-plans")
    args = parser.parse_args()
    files = [path.read_bytes() for path in sorted(args.corpus.rglob("*.md"))]
    if not files:
        raise SystemExit(f"no plans under {args.corpus}")
    texts = [data.decode("utf-8", errors="replace") for data in files]
    size_mb = sum(len(data) for data in files) / 1e6
    bare = MarkdownIt("commonmark", {"html": True}).enable("table")

    def run_engine() -> None:
        for data in files:
            parse_plan(data)

    def run_bare() -> None:
        for text in texts:
            bare.parse(text)

    engine_times, bare_times = [], []
    for _ in range(args.repeat):
        engine_times.append(_time(run_engine))
        bare_times.append(_time(run_bare))
    engine, baseline = statistics.median(engine_times), statistics.median(bare_times)
    ratios = [e / b for e, b in zip(engine_times, bare_times, strict=True)]
    rows = [
        ("sync-engine parse_plan", engine, len(files) / engine, size_mb / engine),
        ("bare markdown-it-py parse", baseline, len(files) / baseline, size_mb / baseline),
    ]
    print(f"corpus: {len(files)} files, {size_mb:.2f} MB ({args.corpus})")
    print(f"{'what':<28}{'median s':>10}{'files/s':>10}{'MB/s':>8}")
    for name, seconds, fps, mbps in rows:
        print(f"{name:<28}{seconds:>10.3f}{fps:>10.0f}{mbps:>8.2f}")
    overhead = statistics.median(ratios) - 1
    print(f"overhead vs bare markdown-it-py (median of paired ratios): {overhead:+.1%}")

    scaling = []
    print(f"\n{'tasks':>8}{'size KB':>10}{'median ms':>12}{'µs/KB':>8}")
    for tasks in (500, 2000, 8000, 32000):
        data = _synthetic_plan(tasks)
        seconds = statistics.median(_time(lambda d=data: parse_plan(d)) for _ in range(3))
        scaling.append({"tasks": tasks, "bytes": len(data), "seconds": seconds})
        print(
            f"{tasks:>8}{len(data) / 1e3:>10.0f}{seconds * 1e3:>12.1f}"
            f"{seconds * 1e6 / (len(data) / 1e3):>8.1f}"
        )
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / "parse.json"
    out.write_text(
        json.dumps(
            {
                "files": len(files),
                "megabytes": size_mb,
                "repeat": args.repeat,
                "engine_seconds": engine,
                "bare_markdown_it_seconds": baseline,
                "overhead_ratio": overhead,
                "engine_runs": engine_times,
                "bare_runs": bare_times,
                "scaling": scaling,
            },
            indent=2,
        )
        + "\n",
        encoding="utf-8",
    )
    print(f"\nwritten {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
