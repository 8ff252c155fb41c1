"""Pieces of the HTML page: the style sheet, the traffic light, number text, and the histogram
as inline SVG (drawn from the same counts the window's histogram shows)."""

from __future__ import annotations

import math

import numpy as np

from .images import Thumbnail

#: Before, After (and a third frame) in the histograms
HISTOGRAM_COLOURS = ("#1f77b4", "#e6550d", "#2ca02c")
LIGHT_COLOURS = {"pass": "#2e9d3a", "warn": "#e8a600", "fail": "#d62728", "unknown": "#999999"}

CSS = """
:root { --ink: #1b1b1b; --soft: #666; --line: #d0d0d0; --band: #f3f5f8; }
* { box-sizing: border-box; }
body { font: 13px/1.35 system-ui, -apple-system, "Segoe UI", "DejaVu Sans", sans-serif;
  color: var(--ink); margin: 0 auto; padding: 16px 24px; max-width: 1240px; }
h1 { font-size: 22px; margin: 0 0 12px; }
h2 { font-size: 18px; margin: 22px 0 8px; border-bottom: 2px solid var(--ink); padding-bottom: 3px; }
h3 { font-size: 14px; margin: 16px 0 6px; }
h4 { font-size: 14px; margin: 0 0 4px; }
h4 small { font-weight: normal; color: var(--soft); }
table { border-collapse: collapse; margin: 4px 0 8px; }
th, td { border: 1px solid var(--line); padding: 2px 6px; text-align: left; vertical-align: top; }
thead th { background: var(--band); }
caption { text-align: left; font-weight: bold; padding-bottom: 2px; }
.cols { display: flex; gap: 24px; flex-wrap: wrap; align-items: flex-start; }
.meta th { background: var(--band); white-space: nowrap; }
.summary td.st, .summary th { text-align: center; font-size: 12px; }
.st-COMPLETE { color: #17612a; } .st-SKIPPED { color: #7a6400; }
.st-FAILED { color: #b00; font-weight: bold; }
td.st-COMPLETE { background: #e5f4e7; } td.st-SKIPPED { background: #fbf3d6; }
td.st-FAILED { background: #f9dcdc; }
.light { display: inline-block; width: 12px; height: 12px; border-radius: 50%;
  vertical-align: -1px; border: 1px solid rgba(0,0,0,.35); }
.files td.sha { font: 11px/1.2 ui-monospace, "DejaVu Sans Mono", monospace; word-break: break-all;
  max-width: 260px; }
.files td { font-size: 12px; } .files td.kw { font-size: 11px; }
.params { font-size: 12px; } .params tr.changed td { background: #fff1a8; font-weight: bold; }
.stars { font-size: 12px; } .stars tr.ratio td { background: #f0f0e1; }
.star-intro { font-size: 12px; color: #444; }
.checks-doc td:last-child { font-size: 12px; color: #333; }
.note { white-space: pre-wrap; border-left: 4px solid #8fb3e0; padding: 4px 10px; background: #f5f8fc; }
.none { color: var(--soft); }
.error { color: #b00; font-weight: bold; }
.warnings li { color: #8a4b00; }
section.product { margin-top: 28px; }
section.step { border: 1px solid var(--line); border-radius: 6px; padding: 8px 10px;
  margin: 10px 0; background: #fff; }
p.status { margin: 0 0 6px; font-weight: bold; }
.note-step, .toc { color: var(--soft); margin: 2px 0 6px; }
.figures { display: flex; flex-wrap: wrap; gap: 10px; }
figure { margin: 0; width: 262px; }
figure img.thumb { display: block; width: 256px; height: auto; border: 1px solid #444;
  image-rendering: auto; background: #000; }
figure img.bar { display: block; width: 258px; height: 10px; margin-top: 3px;
  image-rendering: pixelated; border: 1px solid #444; }
.ticks { display: flex; justify-content: space-between; font-size: 10px; width: 258px; }
figcaption { font-size: 11px; color: #333; margin-top: 2px; }
.row { display: flex; flex-wrap: wrap; gap: 14px; align-items: flex-start; margin-top: 8px; }
.row table { font-size: 12px; }
.metrics td:first-child { color: #333; }
svg.hist { border: 1px solid var(--line); background: #fff; }
footer { margin-top: 30px; color: var(--soft); font-size: 11px; }
@page { size: A4; margin: 12mm; }
@media print {
  body { max-width: none; padding: 0; font-size: 10px; }
  * { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
  section.product { break-before: page; }
  section.step { break-inside: avoid; }
  a { color: inherit; text-decoration: none; }
  figure { width: 190px; } figure img.thumb { width: 184px; }
  figure img.bar, .ticks { width: 186px; }
}
"""


def light(verdict: str) -> str:
    colour = LIGHT_COLOURS.get(verdict, LIGHT_COLOURS["unknown"])
    return f'<span class="light light-{verdict}" style="background:{colour}" title="{verdict}"></span>'


def value_text(value, unit: str = "") -> str:
    """A number or value for people: 6 significant digits, yes/no, — for none; a ``fraction``
    in per cent."""
    if value is None:
        return "—"
    if unit == "fraction" and isinstance(value, (int, float, np.number)) and \
            not isinstance(value, bool):
        return "n/a" if math.isnan(float(value)) else f"{100.0 * float(value):.3g} %"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (int, np.integer)):
        return f"{int(value):,}".replace(",", " ")
    if isinstance(value, (float, np.floating)):
        value = float(value)
        if math.isnan(value):
            return "n/a"
        return f"{value:.6g}"
    return str(value)


def tick_text(value: float) -> str:
    """A colour-bar or axis label: 4 significant digits."""
    return f"{float(value):.4g}" if math.isfinite(float(value)) else "n/a"


class HistogramScale:
    """What the report's histograms share (the SVG here, the PDF's drawing in ``pdf_parts``):
    one value axis over every thumbnail's bins, left to right across ``plot_width`` from
    ``left``, and log counts up to ``plot_height``."""

    def __init__(self, thumbs: list[Thumbnail], left: float, plot_width: float,
                 plot_height: float) -> None:
        self.x0 = min(float(t.histogram.edges[0]) for t in thumbs)
        self.x1 = max(float(t.histogram.edges[-1]) for t in thumbs)
        if not self.x1 > self.x0:
            self.x1 = self.x0 + 1.0
        self.peak = max(float(np.log10(1 + t.histogram.counts.max(initial=0)))
                        for t in thumbs) or 1.0
        self.left, self.plot_width, self.plot_height = left, plot_width, plot_height

    def x(self, value: float) -> float:
        return self.left + (float(value) - self.x0) / (self.x1 - self.x0) * self.plot_width

    def count_height(self, count: float) -> float:
        return math.log10(1 + float(count)) / self.peak * self.plot_height

    def outline(self, thumb: Thumbnail, y) -> list[tuple[float, float]]:
        """The corners of ``thumb``'s step outline, ``y`` placing a count on the drawing."""
        counts, edges = thumb.histogram.counts, thumb.histogram.edges
        points = [(self.x(edges[0]), y(0))]
        for count, left, right in zip(counts, edges[:-1], edges[1:], strict=True):
            level = y(count)
            points += [(self.x(left), level), (self.x(right), level)]
        points.append((self.x(edges[-1]), y(0)))
        return points


def histogram_svg(thumbs: list[Thumbnail], width: int = 330, height: int = 150,
                  first_colour: int = 0) -> str:
    """The histograms of ``thumbs`` on one axis: log counts of the display sample, the display
    limits of the first as dashed lines."""
    left, right, top, bottom = 8, 8, 18, 26
    scale = HistogramScale(thumbs, left, width - left - right, height - top - bottom)
    x0, x1, sx = scale.x0, scale.x1, scale.x

    def sy(count: float) -> float:
        return height - bottom - scale.count_height(count)

    parts = [f'<svg class="hist" width="{width}" height="{height}" viewBox="0 0 {width} {height}"'
             f' xmlns="http://www.w3.org/2000/svg" role="img" aria-label="histogram">']
    low, high = thumbs[0].levels
    for level in (low, high):
        if x0 <= level <= x1:
            parts.append(f'<line x1="{sx(level):.1f}" y1="{top}" x2="{sx(level):.1f}" '
                         f'y2="{height - bottom}" stroke="#888" stroke-dasharray="3,3"/>')
    for index, thumb in enumerate(thumbs):
        colour = HISTOGRAM_COLOURS[(first_colour + index) % len(HISTOGRAM_COLOURS)]
        path = "M" + "L".join(f"{x:.1f},{y:.1f}" for x, y in scale.outline(thumb, sy))
        parts.append(f'<path d="{path}" fill="none" stroke="{colour}" stroke-width="1.2"/>')
        parts.append(f'<text x="{left + 4 + 110 * index}" y="12" font-size="10" fill="{colour}">'
                     f"■ {thumb.label.split(' (')[0]}</text>")
    axis_y = height - bottom
    parts.append(f'<line x1="{left}" y1="{axis_y}" x2="{width - right}" y2="{axis_y}" '
                 f'stroke="#444"/>')
    for x, anchor in ((x0, "start"), (x1, "end")):
        parts.append(f'<text x="{sx(x):.1f}" y="{axis_y + 12}" font-size="10" '
                     f'text-anchor="{anchor}">{tick_text(x)}</text>')
    parts.append(f'<text x="{width / 2:.0f}" y="{axis_y + 22}" font-size="9" fill="#666" '
                 f'text-anchor="middle">value (log count; dashed: display limits)</text></svg>')
    return "".join(parts)
