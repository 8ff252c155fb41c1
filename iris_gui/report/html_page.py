"""``review.html``: one self-contained page (pictures as base64 PNG, CSS inline, no script),
that opens offline in any browser and prints one product per page.

Machine-readable hooks for tests and tools: each product is a ``<section class="product"
data-product=NAME data-verdict=V>``, each step a ``<section class="step" data-step=S
data-status=ST>``, each metric a ``<tr data-metric=KEY data-value=V>`` (floats in full precision),
each check a ``<tr data-check=C data-step=S data-verdict=V>``, each thumbnail an ``<img
data-view=LABEL>``.
"""

from __future__ import annotations

import base64
import math
from html import escape

from .checks import CHECKS
from .html_parts import CSS, histogram_svg, light, tick_text, value_text
from .images import colour_bar_png
from .model import ProductReport, Report, StepReport
from .star_table import html as star_checks_html


def _e(text) -> str:
    return escape(str(text), quote=True)


def _data_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else "nan"
    return "" if value is None else str(value)


def _png_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def _table(headers: list[str], rows: list[str], cls: str = "") -> str:
    head = "".join(f"<th>{_e(h)}</th>" for h in headers)
    return (f'<table class="{cls}"><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}'
            f"</tbody></table>")


def _keywords(keywords: dict[str, str]) -> str:
    return " · ".join(f"<b>{_e(k)}</b>&nbsp;{_e(v)}" for k, v in keywords.items()) or "—"


def _cover(report: Report) -> str:
    steps = report.step_names
    rows = []
    for product in report.products:
        cells = []
        statuses = {s.name: s.status for s in product.steps}
        for name in steps:
            status = statuses.get(name, "—")
            cells.append(f'<td class="st st-{_e(status)}">{_e(status)}</td>')
        rows.append(f'<tr data-product="{_e(product.name)}"><td><a href="#{product.anchor}">'
                    f"{_e(product.name)}</a></td>{''.join(cells)}<td>{light(product.verdict)}"
                    f" {_e(product.verdict)}</td></tr>")
    head = "".join(f'<th title="{_e(report.step_titles[s])}">{_e(s)}</th>' for s in steps)
    summary = (f'<table class="summary"><thead><tr><th>Product</th>{head}<th>Checks</th></tr>'
               f'</thead><tbody>{"".join(rows)}</tbody></table>')
    thresholds = report.thresholds
    display = report.display
    meta = [("Date", report.created), ("Reviewer", report.reviewer or "—"),
            ("Made", report.origin),
            ("Display", f"{display.limits} limits, {display.stretch} stretch, "
                        f"{display.colormap} colour map; NaN shown in "
                        f"rgb{tuple(display.nan_colour)}"),
            ("Checks", thresholds.source or "the default thresholds")]
    meta_rows = "".join(f"<tr><th>{_e(k)}</th><td>{_e(v)}</td></tr>" for k, v in meta)
    versions = "".join(f"<tr><th>{_e(k)}</th><td>{_e(v)}</td></tr>"
                       for k, v in report.versions.items())
    parts = [f'<header id="cover"><h1>{_e(report.title)}</h1>',
             f'<div class="cols"><table class="meta">{meta_rows}</table>'
             f'<table class="meta versions"><caption>Software</caption>{versions}</table></div>',
             "<h2>Products and steps</h2>", summary]
    if report.not_remade:
        rows = [f'<tr class="not-remade" data-product="{_e(n.name)}"><td>{_e(n.name)}</td>'
                f"<td>{_e(n.file)}</td><td>{_e(n.reason)}</td></tr>" for n in report.not_remade]
        parts += ["<h2>Products that could not be re-made</h2>",
                  _table(["Product", "File", "Why"], rows, "not-remade")]
    if report.night:
        parts.append(_night(report))
    check_rows = [f'<tr><td>{_e(c.name)}</td><td>{_e(c.title)}</td>'
                  f"<td>{_e(thresholds.describe(c.name))}</td><td>{_e(c.doc)}</td></tr>"
                  for c in CHECKS]
    parts += ["<h2>Checks</h2>", _table(["Check", "What", "Thresholds", "Meaning"], check_rows,
                                        "checks-doc"), "</header>"]
    return "".join(parts)


def _night(report: Report) -> str:
    """The quick-look's night table: one row per file watched (``data-file``, ``data-status``)."""
    from ..engine.night_log import NIGHT_COLUMNS, night_cells

    rows = [f'<tr data-file="{_e(row.name)}" data-status="{_e(row.status)}">'
            + "".join(f"<td>{_e(cell)}</td>" for cell in night_cells(row)) + "</tr>"
            for row in report.night]
    return "<h2>The night (quick-look)</h2>" + _table(list(NIGHT_COLUMNS), rows, "night")


def _files(title: str, files, with_how: bool = False) -> str:
    if not files:
        return f"<h3>{_e(title)}</h3><p class='none'>none</p>"
    headers = ["Step", "Kind", "File", "How"] if with_how else ["Role", "File"]
    headers += ["sha256", "Header"]
    rows = []
    for info in files:
        cells = [info.step, info.role, info.path, info.how] if with_how else [info.role, info.path]
        cells_html = "".join(f"<td>{_e(c)}</td>" for c in cells)
        rows.append(f"<tr>{cells_html}<td class='sha'>{_e(info.sha256 or 'unreadable')}</td>"
                    f"<td class='kw'>{_keywords(info.keywords)}</td></tr>")
    return f"<h3>{_e(title)}</h3>" + _table(headers, rows, "files")


def _checks(product: ProductReport) -> str:
    rows = [f'<tr data-check="{_e(c.check)}" data-step="{_e(c.step)}" data-verdict="{c.verdict}"'
            f' data-value="{_e(_data_value(c.value))}"><td>{light(c.verdict)} {_e(c.verdict)}</td>'
            f"<td>{_e(c.title)}</td><td>{_e(c.step)}</td><td>{_e(c.shown)}</td>"
            f"<td>{_e(c.threshold)}</td><td>{_e(c.detail)}</td></tr>" for c in product.checks]
    return "<h3>Checks</h3>" + _table(["Verdict", "Check", "Step", "Value", "Thresholds",
                                       "Detail"], rows, "checks")


def _parameters(product: ProductReport) -> str:
    changed = sum(1 for row in product.parameters if row.changed)
    rows = [f'<tr class="{"changed" if r.changed else ""}" data-parameter="{_e(r.key)}">'
            f"<td>{_e(r.key)}</td><td>{_e(r.value)}</td><td>{_e(r.default)}</td></tr>"
            for r in product.parameters]
    source = f" from {product.parameter_source}" if product.parameter_source else ""
    half = (len(rows) + 1) // 2
    headers = ["Parameter", "Value", "Default"]
    return (f"<h3>Parameters{_e(source)}</h3><p>{changed} not at their default "
            f"(highlighted).</p><div class='cols'>" + _table(headers, rows[:half], "params")
            + _table(headers, rows[half:], "params") + "</div>")


def _review(product: ProductReport) -> str:
    signoff = product.signoff
    sign = (f'<p class="signoff" data-verdict="{_e(signoff["verdict"])}"><b>Sign-off:</b> '
            f'{_e(signoff["verdict"])} by {_e(signoff["by"] or "—")} at {_e(signoff["when"])}</p>'
            if signoff else '<p class="signoff">Sign-off: none</p>')
    note = (f'<div class="note">{_e(product.note)}</div>' if product.note
            else "<p class='none'>No note.</p>")
    return "<h3>Review</h3>" + note + sign


def _figure(thumb, bars: dict[str, str]) -> str:
    ny, nx = thumb.shape
    ticks = "".join(f"<span>{_e(tick_text(v))}</span>" for _, v in thumb.ticks())
    block = f", {thumb.block}×{thumb.block} block mean" if thumb.block > 1 else ""
    note = f", {thumb.note}" if thumb.note else ""
    low, high = thumb.levels
    return (f'<figure><img class="thumb" data-view="{_e(thumb.label)}" src="{_png_uri(thumb.png)}"'
            f' width="{thumb.size[1]}" height="{thumb.size[0]}" alt="{_e(thumb.label)}">'
            f'<img class="bar" src="{bars[thumb.colormap]}" alt="colour bar">'
            f'<div class="ticks">{ticks}</div><figcaption><b>{_e(thumb.label)}</b><br>'
            f"{nx}×{ny}{block}{_e(note)}; {thumb.stretch} {_e(value_text(low))} .. "
            f"{_e(value_text(high))}</figcaption></figure>")


def _step(product: ProductReport, step: StepReport, bars: dict[str, str]) -> str:
    cached = " (reused from the cache)" if step.from_cache else ""
    timing = f" in {step.elapsed:.2f} s" if step.status == "COMPLETE" else ""
    reason = f" — {_e(step.reason)}" if step.reason else ""
    parts = [f'<section class="step" id="{product.anchor}-{step.name}" data-step="{step.name}" '
             f'data-status="{_e(step.status)}"><h4>{_e(step.name)} <small>{_e(step.title)}'
             f'</small></h4><p class="status st-{_e(step.status)}">{_e(step.status)}{timing}'
             f"{cached}{reason}</p>"]
    if step.warnings:
        parts.append("<ul class='warnings'>" + "".join(f"<li>{_e(w)}</li>" for w in step.warnings)
                     + "</ul>")
    if step.note:
        parts.append(f"<p class='note-step'>{_e(step.note)}</p>")
    if step.thumbnails:
        parts.append('<div class="figures">' + "".join(_figure(t, bars) for t in step.thumbnails)
                     + "</div>")
    row = []
    histograms = [t for t in step.thumbnails[:2] if t.histogram is not None]
    if histograms:
        if step.overlay_histograms or len(histograms) == 1:
            row.append(histogram_svg(histograms))
        else:
            row.extend(histogram_svg([t], first_colour=i) for i, t in enumerate(histograms))
    if step.dq_rows:
        dq = [f'<tr data-flag="{_e(r.flag)}"><td>{_e(r.flag)}{"" if r.bit is None else f" ({r.bit})"}'
              f"</td><td>{value_text(r.before)}</td><td>{value_text(r.after)}</td>"
              f"<td>{value_text(r.new)}</td></tr>" for r in step.dq_rows]
        row.append(_table(["DQ flag", "before", "after", "new"], dq, "dq"))
    if step.metrics:
        rows = [f'<tr data-metric="{_e(m.key)}" data-value="{_e(_data_value(m.value))}"><td>'
                f"{_e(m.label)}</td><td>{_e(value_text(m.value, m.unit))} "
                f"{'' if m.unit == 'fraction' else _e(m.unit)}"
                f"{'<br><small>' + _e(m.note) + '</small>' if m.note else ''}</td></tr>"
                for m in step.metrics]
        row.append(_table(["Metric", "Value"], rows, "metrics"))
    if row:
        parts.append('<div class="row">' + "".join(row) + "</div>")
    parts.append("</section>")
    return "".join(parts)


def _product(product: ProductReport, bars: dict[str, str]) -> str:
    status = {"done": "", "failed": " — FAILED", "cancelled": " — cancelled"}[product.status]
    parts = [f'<section class="product" id="{product.anchor}" data-product="{_e(product.name)}" '
             f'data-verdict="{product.verdict}"><h2>{light(product.verdict)} Product '
             f"{_e(product.name)}{status}</h2>",
             f'<p class="origin">From {_e(product.source)}'
             f"{'; ' + _e(product.origin) if product.origin else ''}"
             f"{'; ' + str(product.nints) + ' integrations' if product.is_3d else ''}.</p>"]
    if product.error:
        parts.append(f'<p class="error">{_e(product.error)}</p>')
    parts.append(_checks(product))
    parts.append(_files("Inputs", product.inputs))
    parts.append(_files("Background members", product.backgrounds))
    parts.append(_files("References used", product.references, with_how=True))
    if product.outputs:
        parts.append("<h3>Outputs</h3><ul class='outputs'>" + "".join(
            f"<li>{_e(path)}</li>" for path in product.outputs) + "</ul>")
    warnings = "".join(f"<li><b>{_e(where)}</b>: {_e(text)}</li>" for where, text in
                       product.warnings)
    parts.append("<h3>Warnings</h3>" + (f"<ul class='warnings'>{warnings}</ul>" if warnings
                                        else "<p class='none'>none</p>"))
    parts.append(_review(product))
    parts.append(star_checks_html(product.star_checks, _e))
    parts.append(_parameters(product))
    parts.append("<h3>Steps</h3><p class='toc'>" + " · ".join(
        f'<a href="#{product.anchor}-{s.name}">{_e(s.name)}</a>' for s in product.steps) + "</p>")
    parts.extend(_step(product, step, bars) for step in product.steps)
    parts.append("</section>")
    return "".join(parts)


def render_html(report: Report) -> str:
    """The whole page as text."""
    colormaps = {t.colormap for p in report.products for s in p.steps for t in s.thumbnails}
    bars = {name: _png_uri(colour_bar_png(name, report.display.nan_colour)) for name in colormaps}
    body = _cover(report) + "".join(_product(p, bars) for p in report.products)
    return (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f'<meta name="generator" content="iris_gui {_e(report.versions.get("iris_gui", ""))}">'
            f"<title>{_e(report.title)} — {_e(report.created)}</title><style>{CSS}</style></head>"
            f"<body>{body}<footer>Made by iris_gui {_e(report.versions.get('iris_gui', ''))} on "
            f"{_e(report.created)}.</footer></body></html>\n")
