"""An SVG chart of every image's medians as a ratio to the naive image's, stdlib only.

Bars start at 1.0 (the naive image) on a log scale, so 0.5x and 2x are equally long.
"""

from __future__ import annotations

import math
from html import escape

from benchmarks.contenders import NAIVE
from benchmarks.figures import FIGURES, VariantResult
from benchmarks.peer_recipes import FLOOR
from benchmarks.stats import ratio

WIDTH = 900
LABEL_RIGHT = 292  # labels end here
PLOT_LEFT, PLOT_RIGHT = 304, 730
VALUE_X = 742  # the column of printed ratios
BAR_HEIGHT = 14
GAP = 8
TOP = 84
COLOURS = ("#2b6cb0", "#dd6b20", "#2f855a", "#805ad5", "#b7791f", "#c53030", "#319795")
SPAN = 2.0  # log2 range each side of 1.0: from 0.25x to 4x; beyond is drawn to the edge


def x_of(value: float) -> float:
    clipped = max(-SPAN, min(SPAN, math.log2(value)))
    return (PLOT_LEFT + PLOT_RIGHT) / 2 + (PLOT_RIGHT - PLOT_LEFT) / 2 * clipped / SPAN


def verdict(value: float, higher_is_better: bool) -> str:
    if abs(value - 1) < 0.005:
        return "same"
    return "better" if (value > 1) == higher_is_better else "worse"


def chart_svg(result: VariantResult, title: str) -> str:
    naive = result.contender(NAIVE)
    shown = [c for c in result.contenders if c.key not in (NAIVE, FLOOR)]
    colour = {c.key: COLOURS[i % len(COLOURS)] for i, c in enumerate(shown)}
    legend_rows = (len(shown) + 1) // 2  # two legend entries per line
    top = TOP + 16 * (legend_rows - 1)
    height = top + len(FIGURES) * (len(shown) * BAR_HEIGHT + GAP) + 36
    one = x_of(1.0)
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" '
        f'viewBox="0 0 {WIDTH} {height}" font-family="sans-serif" font-size="12">',
        f'<rect width="{WIDTH}" height="{height}" fill="white"/>',
        f'<text x="10" y="20" font-size="15" font-weight="bold">{escape(title)}</text>',
        '<text x="10" y="38">Median of each image divided by the naive image\'s median, log scale; '
        "1.0 = same as naive. Which way is better is printed per row.</text>",
    ]
    for i, c in enumerate(shown):
        x: float = 10 + (i % 2) * 440
        y = 48 + 16 * (i // 2)
        out.append(
            f'<rect x="{x}" y="{y}" width="12" height="12" fill="{colour[c.key]}"/>'
            f'<text x="{x + 16}" y="{y + 10}">{escape(c.label)}</text>'
        )
    for tick in (0.25, 0.5, 1.0, 2.0, 4.0):
        x = x_of(tick)
        out.append(
            f'<line x1="{x:.1f}" y1="{top - 6}" x2="{x:.1f}" y2="{height - 30}" stroke="#ccc"/>'
            f'<text x="{x:.1f}" y="{height - 16}" text-anchor="middle">{tick:g}x</text>'
        )
    y = top
    for figure in FIGURES:
        block = len(shown) * BAR_HEIGHT
        way = "higher" if figure.higher_is_better else "lower"
        out.append(
            f'<text x="{LABEL_RIGHT}" y="{y + block / 2 + 4:.0f}" text-anchor="end">'
            f"{escape(figure.short)} ({way} better)</text>"
        )
        for c in shown:
            value = (
                None
                if figure.from_build and c.image_of
                else ratio(c.median(figure.key), naive.median(figure.key))
            )
            if value is None:
                out.append(
                    f'<text x="{VALUE_X}" y="{y + 11}" fill="#666">'
                    f"{'same image' if c.image_of else 'not measured'}</text>"
                )
            else:
                left, right = sorted((one, x_of(value)))
                out.append(
                    f'<rect x="{left:.1f}" y="{y + 1}" width="{max(right - left, 1.5):.1f}" '
                    f'height="{BAR_HEIGHT - 3}" fill="{colour[c.key]}"/>'
                )
                out.append(
                    f'<text x="{VALUE_X}" y="{y + 11}">'
                    f"{value:.2f}x {verdict(value, figure.higher_is_better)}</text>"
                )
            y += BAR_HEIGHT
        y += GAP
    out.append(
        f'<line x1="{one:.1f}" y1="{top - 6}" x2="{one:.1f}" y2="{height - 30}" stroke="black"/>'
    )
    out.append("</svg>")
    return "\n".join(out) + "\n"
