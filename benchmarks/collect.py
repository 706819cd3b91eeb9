"""Append the other benchmarks' result files (benchmarks/results/*.md) to benchmarks/RESULTS.md.

bench_cells.py writes the part of RESULTS.md above the marker line; bench_topology.py,
bench_fiedler.py, bench_certify.py, bench_track.py and the others write benchmarks/results/<name>.md. This
script replaces everything below the marker with those files, in a fixed order.

    python benchmarks/collect.py
"""

from __future__ import annotations

from pathlib import Path

HERE = Path(__file__).resolve().parent
MARKER = "\n<!-- other benchmarks below -->\n"
ORDER = ("large", "large_sharded", "parallel", "certify", "coords", "exactc", "topology", "fiedler", "track",
         "peers", "memory_floor", "small_nets", "edge_subdivision", "compiled", "profile", "plane", "study_jobs",
         "report")


def main() -> None:
    out = HERE / "RESULTS.md"
    text = out.read_text() if out.exists() else "# Benchmarks\n"
    head = text.split(MARKER)[0].rstrip("\n") + "\n"
    parts = []
    for name in ORDER:
        p = HERE / "results" / f"{name}.md"
        if p.exists():
            parts.append(p.read_text().strip() + "\n")
    body = "\n".join(parts)
    out.write_text(head + MARKER + ("\n" + body if body else ""))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
