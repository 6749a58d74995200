#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""Renders a run of speebpf-bench (its JSON) through a Jinja2 template.

The JSON holds every figure, the targets with their verdicts and the
comparison with the previous run (tools/bench/json.c); this step only
formats. tools/bench/BENCHMARKS.md.j2 is BENCHMARKS.md (it includes the
hand-written tools/bench/analysis.md); tools/bench/summary.txt.j2 is the
summary `make bench` prints.

Usage: render.py RUN.json TEMPLATE [OUT]   (OUT: stdout when absent)
"""
import json
import math
import os
import sys

import jinja2

HERE = os.path.dirname(os.path.abspath(__file__))


def num(v, digits=1):
    """A number with a fixed count of decimals; a dash when there is none."""
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "–"
    return f"{v:,.{digits}f}"


def stat(s, digits=1, mark=True):
    """A stat as "median [min–max]", with a dagger when it moved since the previous run."""
    if not s:
        return "–"
    text = f"{num(s.get('med'), digits)} [{num(s.get('min'), digits)}–{num(s.get('max'), digits)}]"
    if mark and s.get("moved"):
        text += " †"
    return text


def med(s, digits=1, mark=True):
    """A stat's median alone, with the same mark."""
    if not s:
        return "–"
    return num(s.get("med"), digits) + (" †" if mark and s.get("moved") else "")


def count(v):
    return "–" if v is None else f"{int(v):,}"


def pct(v, digits=0):
    return "–" if v is None else f"{100 * v:+.{digits}f}%"


def groups(targets):
    """The targets grouped by goal, in their order: [(goal, [target, ...]), ...]."""
    out = []
    for t in targets:
        if not out or out[-1][0]["group"] != t["group"]:
            out.append((t, []))
        out[-1][1].append(t)
    return [(first["goal"], ts) for first, ts in out]


def main(argv):
    if len(argv) not in (3, 4):
        sys.stderr.write(__doc__)
        return 2
    with open(argv[1], encoding="utf-8") as f:
        run = json.load(f)
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(HERE),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(num=num, stat=stat, med=med, count=count, pct=pct, groups=groups)
    text = env.get_template(os.path.basename(argv[2])).render(r=run, source=argv[1])
    if len(argv) == 4:
        with open(argv[3], "w", encoding="utf-8") as f:
            f.write(text)
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
