"""``review.pdf``: the HTML page's content paginated with reportlab (A4): a cover, then one
section per product starting on its own page, with an outline (bookmarks) entry per product and,
under it, per step. Text is real text (TrueType fonts embedded), so it can be searched and
extracted.
"""

from __future__ import annotations

import io

from reportlab import rl_config
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.platypus import (
    KeepTogether,
    PageBreak,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    Table,
)

from ..engine.cancel import CancelToken, check_cancel
from .checks import CHECKS
from .html_parts import tick_text, value_text
from .images import colour_bar_rgb
from .model import ProductReport, Report, StepReport
from .pdf_parts import SANS, Picture, clean, histogram_drawing, light, para, styles, table
from .star_table import pdf as star_checks_pdf

MARGIN = 13 * mm
WIDTH = A4[0] - 2 * MARGIN
STATUS_COLOURS = {"COMPLETE": "#e5f4e7", "SKIPPED": "#fbf3d6", "FAILED": "#f9dcdc"}


class _Heading(Paragraph):
    """A heading that becomes an outline entry (``level`` 0: product, 1: step)."""

    def __init__(self, text: str, style, key: str, level: int, title: str) -> None:
        super().__init__(text, style)
        self.outline = (key, level, clean(title))


class _Document(SimpleDocTemplate):
    def afterFlowable(self, flowable) -> None:  # noqa: N802 - reportlab's hook
        outline = getattr(flowable, "outline", None)
        if outline:
            key, level, title = outline
            self.canv.bookmarkPage(key)
            self.canv.addOutlineEntry(title, key, level=level, closed=level > 0)


def _footer(title: str):
    def draw(canvas, doc) -> None:
        canvas.saveState()
        canvas.setFont(SANS, 6.5)
        canvas.setFillColor(colors.HexColor("#666666"))
        canvas.drawString(MARGIN, 7 * mm, clean(title))
        canvas.drawRightString(A4[0] - MARGIN, 7 * mm, f"page {doc.page}")
        canvas.restoreState()

    return draw


def _cover(report: Report) -> list:
    s = styles()
    story = [_Heading(clean(report.title), s["title"], "cover", 0, "Summary")]
    display = report.display
    meta = [["Date", report.created], ["Reviewer", report.reviewer or "-"],
            ["Made", report.origin],
            ["Display", f"{display.limits} limits, {display.stretch} stretch, {display.colormap}"
                        f" colour map"],
            ["Checks", report.thresholds.source or "the default thresholds"]]
    versions = [[k, v] for k, v in report.versions.items()]
    story.append(Table([[table(None, meta, [22 * mm, 92 * mm]),
                         table(None, versions, [20 * mm, 34 * mm])]],
                       colWidths=[118 * mm, 60 * mm], hAlign="LEFT",
                       style=[("VALIGN", (0, 0), (-1, -1), "TOP"),
                              ("LEFTPADDING", (0, 0), (-1, -1), 0)]))
    story.append(para("Products and steps", s["h2"]))
    steps = report.step_names
    widths = [38 * mm] + [(WIDTH - 38 * mm - 20 * mm) / len(steps)] * len(steps) + [20 * mm]
    rows, extra = [], []
    for r, product in enumerate(report.products, start=1):
        statuses = {st.name: st.status for st in product.steps}
        cells = [statuses.get(name, "-") for name in steps]
        for c, status in enumerate(cells, start=1):
            if status in STATUS_COLOURS:
                extra.append(("BACKGROUND", (c, r), (c, r), colors.HexColor(STATUS_COLOURS[status])))
        verdict = Table([[light(product.verdict), para(product.verdict, s["cell"])]],
                        colWidths=[11, 16 * mm], style=[("LEFTPADDING", (0, 0), (-1, -1), 0),
                                                        ("VALIGN", (0, 0), (-1, -1), "MIDDLE")])
        rows.append([product.name, *cells, verdict])
    story.append(table(["Product", *[n.replace("_", " ") for n in steps], "Checks"], rows,
                       widths, extra))
    if report.not_remade:
        story.append(para("Products that could not be re-made", s["h2"]))
        story.append(table(["Product", "File", "Why"],
                           [[n.name, n.file, n.reason] for n in report.not_remade],
                           [30 * mm, 60 * mm, WIDTH - 90 * mm]))
    if report.night:
        from ..engine.night_log import NIGHT_COLUMNS, night_cells

        story.append(para("The night (quick-look)", s["h2"]))
        story.append(table(list(NIGHT_COLUMNS), [night_cells(row) for row in report.night],
                           [34 * mm, 26 * mm, 12 * mm, 44 * mm, 16 * mm, 14 * mm,
                            WIDTH - 146 * mm]))
    story.append(para("Checks", s["h2"]))
    story.append(table(["Check", "What", "Thresholds", "Meaning"],
                       [[c.name, c.title, report.thresholds.describe(c.name), c.doc]
                        for c in CHECKS], [28 * mm, 32 * mm, 30 * mm, WIDTH - 90 * mm]))
    return story


def _files(title: str, files, with_how: bool = False) -> list:
    s = styles()
    story = [para(title, s["h3"])]
    if not files:
        return story + [para("none", s["small"])]
    rows = []
    for info in files:
        keywords = " · ".join(f"<b>{para(k, s['cell']).text}</b> {para(v, s['cell']).text}"
                              for k, v in info.keywords.items()) or "-"
        first = [info.step, info.role, info.path, info.how] if with_how else [info.role, info.path]
        rows.append([*first, para(info.sha256 or "unreadable", s["mono"]),
                     para(keywords, s["cell"], markup=True)])
    if with_how:
        headers = ["Step", "Kind", "File", "How", "sha256", "Header"]
        widths = [18 * mm, 13 * mm, 44 * mm, 26 * mm, 33 * mm, WIDTH - 134 * mm]
    else:
        headers = ["Role", "File", "sha256", "Header"]
        widths = [19 * mm, 59 * mm, 33 * mm, WIDTH - 111 * mm]
    return story + [table(headers, rows, widths)]


def _thumbnail(thumb, width: float, bars: dict) -> Table:
    s = styles()
    ny, nx = thumb.size
    height = width * ny / nx
    ticks = Table([[para(tick_text(v), s["small"]) for _, v in thumb.ticks()]],
                  colWidths=[width / 3] * 3,
                  style=[("ALIGN", (1, 0), (1, 0), "CENTER"), ("ALIGN", (2, 0), (2, 0), "RIGHT"),
                         ("LEFTPADDING", (0, 0), (-1, -1), 0),
                         ("RIGHTPADDING", (0, 0), (-1, -1), 0),
                         ("TOPPADDING", (0, 0), (-1, -1), 0)])
    fy, fx = thumb.shape
    block = f", {thumb.block}x{thumb.block} block mean" if thumb.block > 1 else ""
    note = f", {thumb.note}" if thumb.note else ""
    caption = para(f"<b>{para(thumb.label, s['small']).text}</b><br/>"
                   f"{fx}x{fy}{block}{para(note, s['small']).text}; {thumb.stretch} "
                   f"{value_text(thumb.levels[0])} .. {value_text(thumb.levels[1])}",
                   s["small"], markup=True)
    return Table([[Picture(thumb.rgb, width, height)],
                  [Picture(bars[thumb.colormap], width, 5)], [ticks], [caption]],
                 colWidths=[width], hAlign="LEFT",
                 style=[("LEFTPADDING", (0, 0), (-1, -1), 0), ("RIGHTPADDING", (0, 0), (-1, -1), 0),
                        ("TOPPADDING", (0, 0), (-1, -1), 0.5),
                        ("BOTTOMPADDING", (0, 0), (-1, -1), 0.5)])


def _step(product: ProductReport, step: StepReport, bars: dict) -> list:
    s = styles()
    key = f"{product.anchor}-{step.name}"
    heading = _Heading(f"{clean(step.name)} <font name='{SANS}' size='8' color='#666666'>"
                       f"{clean(step.title)}</font>", s["h2"], key, 1, step.name)
    timing = f" in {step.elapsed:.2f} s" if step.status == "COMPLETE" else ""
    cached = " (reused from the cache)" if step.from_cache else ""
    reason = f" - {step.reason}" if step.reason else ""
    block = [heading, para(f"{step.status}{timing}{cached}{reason}", s["body"])]
    block += [para(f"warning: {w}", s["warn"]) for w in step.warnings]
    if step.note:
        block.append(para(step.note, s["small"]))
    if step.thumbnails:
        count = max(4, len(step.thumbnails))
        gap = 6
        width = (WIDTH - gap * count) / count
        block.append(Table([[_thumbnail(t, width, bars) for t in step.thumbnails]],
                           colWidths=[width + gap] * len(step.thumbnails), hAlign="LEFT",
                           style=[("VALIGN", (0, 0), (-1, -1), "TOP"),
                                  ("LEFTPADDING", (0, 0), (-1, -1), 0),
                                  ("RIGHTPADDING", (0, 0), (-1, -1), gap)]))
    row, widths = [], []
    histograms = [t for t in step.thumbnails[:2] if t.histogram is not None]
    if histograms:
        if step.overlay_histograms or len(histograms) == 1:
            row.append(histogram_drawing(histograms, 62 * mm))
            widths.append(64 * mm)
        else:
            row.append(Table([[histogram_drawing([t], 62 * mm)] for t in histograms],
                             style=[("LEFTPADDING", (0, 0), (-1, -1), 0)]))
            widths.append(64 * mm)
    if step.dq_rows:
        dq = [[r.flag if r.bit is None else f"{r.flag} ({r.bit})", value_text(r.before),
               value_text(r.after), value_text(r.new)] for r in step.dq_rows]
        row.append(table(["DQ flag", "before", "after", "new"], dq,
                         [29 * mm, 10 * mm, 10 * mm, 9 * mm], wrap=False))
        widths.append(60 * mm)
    if step.metrics:
        rest = WIDTH - sum(widths) - 2
        metrics = [[m.label, f"{value_text(m.value, m.unit)} "
                    f"{'' if m.unit == 'fraction' else m.unit}".strip()
                    + (f"\n{m.note}" if m.note else "")] for m in step.metrics]
        row.append(table(["Metric", "Value"], metrics, [rest * 0.45, rest * 0.55]))
        widths.append(rest)
    if row:
        block.append(Spacer(1, 3))
        block.append(Table([row], colWidths=widths, hAlign="LEFT",
                           style=[("VALIGN", (0, 0), (-1, -1), "TOP"),
                                  ("LEFTPADDING", (0, 0), (-1, -1), 0)]))
    return [KeepTogether(block), Spacer(1, 6)]


def _product(product: ProductReport, bars: dict, cancel) -> list:
    s = styles()
    status = {"done": "", "failed": " - FAILED", "cancelled": " - cancelled"}[product.status]
    title = f"Product {product.name}{status}"
    heading = Table([[light(product.verdict, 12), para(title, s["h1"])]],
                    colWidths=[16, WIDTH - 16], hAlign="LEFT",
                    style=[("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
                           ("LEFTPADDING", (0, 0), (-1, -1), 0)])
    heading.outline = (product.anchor, 0, clean(f"Product {product.name}"))  # see afterFlowable
    story: list = [PageBreak(), heading]
    origin = f"From {product.source}" + (f"; {product.origin}" if product.origin else "")
    if product.is_3d:
        origin += f"; {product.nints} integrations"
    story.append(para(origin + f". Checks: {product.verdict}.", s["body"]))
    if product.error:
        story.append(para(product.error, s["error"]))
    story.append(para("Checks", s["h3"]))
    story.append(table(["Verdict", "Check", "Step", "Value", "Thresholds", "Detail"],
                       [[c.verdict, c.title, c.step, c.shown, c.threshold, c.detail]
                        for c in product.checks],
                       [13 * mm, 36 * mm, 22 * mm, 20 * mm, 32 * mm, WIDTH - 123 * mm],
                       [("BACKGROUND", (0, i), (0, i), colors.HexColor(
                           {"pass": "#e5f4e7", "warn": "#fbf0c8", "fail": "#f9dcdc"}.get(
                               c.verdict, "#eeeeee"))) for i, c in enumerate(product.checks, 1)]))
    story += _files("Inputs", product.inputs)
    story += _files("Background members", product.backgrounds)
    story += _files("References used", product.references, with_how=True)
    if product.outputs:
        story.append(para("Outputs", s["h3"]))
        story += [para(path, s["small"]) for path in product.outputs]
    story.append(para("Warnings", s["h3"]))
    story += [para(f"{where}: {text}", s["warn"]) for where, text in product.warnings] or \
        [para("none", s["small"])]
    story.append(para("Review", s["h3"]))
    story.append(para(product.note or "No note.", s["body"]))
    signoff = product.signoff
    story.append(para(f"Sign-off: {signoff['verdict']} by {signoff['by'] or '-'} at "
                      f"{signoff['when']}" if signoff else "Sign-off: none", s["body"]))
    story += star_checks_pdf(product.star_checks, WIDTH)
    changed = [r for r in product.parameters if r.changed]
    story.append(para(f"Parameters{' from ' + product.parameter_source if product.parameter_source else ''}"
                      f" ({len(changed)} not at their default, highlighted)", s["h3"]))
    rows = [[r.key, r.value, r.default] for r in product.parameters]
    half = (len(rows) + 1) // 2
    extra = [("BACKGROUND", (0, i), (-1, i), colors.HexColor("#fff1a8"))
             for i, r in enumerate(product.parameters[:half], 1) if r.changed]
    extra2 = [("BACKGROUND", (0, i), (-1, i), colors.HexColor("#fff1a8"))
              for i, r in enumerate(product.parameters[half:], 1) if r.changed]
    col = [50 * mm, 22 * mm, 17 * mm]
    story.append(Table([[table(["Parameter", "Value", "Default"], rows[:half], col, extra,
                               wrap=False),
                         table(["Parameter", "Value", "Default"], rows[half:], col, extra2,
                               wrap=False)]],
                       hAlign="LEFT", style=[("VALIGN", (0, 0), (-1, -1), "TOP"),
                                             ("LEFTPADDING", (0, 0), (-1, -1), 0)]))
    story.append(para("Steps", s["h3"]))
    for step in product.steps:
        check_cancel(cancel)
        story += _step(product, step, bars)
    return story


def render_pdf(report: Report, cancel: CancelToken | None = None) -> bytes:
    """The whole document as bytes."""
    buffer = io.BytesIO()
    doc = _Document(buffer, pagesize=A4, leftMargin=MARGIN, rightMargin=MARGIN,
                    topMargin=MARGIN, bottomMargin=MARGIN + 3 * mm, title=clean(report.title),
                    author=clean(report.reviewer or "iris_gui"), subject="image2 review report",
                    creator=f"iris_gui {report.versions.get('iris_gui', '')}")
    colormaps = {t.colormap for p in report.products for st in p.steps for t in st.thumbnails}
    bars = {name: colour_bar_rgb(name, report.display.nan_colour) for name in colormaps}
    story = _cover(report)
    for product in report.products:
        check_cancel(cancel)
        story += _product(product, bars, cancel)
    footer = _footer(f"{report.title} - {report.created}")
    saved = rl_config.useA85
    rl_config.useA85 = 0  # binary image streams: ASCII85 would be slow (pure Python) and larger
    try:
        doc.build(story, onFirstPage=footer, onLaterPages=footer)
    finally:
        rl_config.useA85 = saved
    return buffer.getvalue()

