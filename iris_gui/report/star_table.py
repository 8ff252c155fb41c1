"""The review report's star checks: each star the reviewer checked in the window (``ViewState.
star_checks`` of the product), measured again on the result the report describes — the same
code as the window's Star check dock (``display.star_check``), so the numbers are the ones shown
there for that result — and drawn as a table per star in the HTML and the PDF.

A view the result no longer has (the step skipped since, say) is a row saying so.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..display import star_check as sc
from ..display.view_sources import step_views
from ..engine.pipeline import ProductResult
from ..state.star_checks import StarCheck, StarMeasure


def remeasure(result: ProductResult, checks: Sequence[StarCheck]) -> list[StarCheck]:
    """``checks`` measured on ``result`` (off the GUI thread: photutils, and derived frames)."""
    measured = []
    for check in checks:
        views = step_views(result, check.step)
        labels = {m.role: m.label for m in check.measures}
        frames, missing = {}, []
        for role, label in labels.items():
            source = views.sources.get(label)
            if source is None:
                missing.append(StarMeasure(role, label, error=(
                    f"this result has no {label} for {check.step}")))
            else:
                frames[role] = sc.frame_of(role, source, check.plane)
        if check.clicked not in frames:
            measured.append(StarCheck(check.product, check.step, check.clicked, check.x, check.y,
                                      check.plane, check.radii, tuple(missing)))
            continue
        try:
            again = sc.measure_check(frames, check.clicked, check.x, check.y, check.radii,
                                     product=check.product, step=check.step, plane=check.plane)
            found = list(again.measures)
        except sc.NoStar as exc:
            found = [StarMeasure(check.clicked, labels[check.clicked], error=str(exc))]
        ordered = tuple(sorted(found + missing, key=lambda m: m.role))
        measured.append(StarCheck(check.product, check.step, check.clicked, check.x, check.y,
                                  check.plane, check.radii, ordered))
    return measured


INTRO = ("Stars the reviewer clicked in the window (Star check), measured on this result: "
         "centroid, FWHM (a Gaussian fitted to the pixels), peak above the local sky, flux in "
         "the aperture minus the sky annulus' median, in both panes; B / A compares them (on "
         "another grid the position is by WCS).")


def html(checks: Sequence[StarCheck], escape) -> str:
    """The HTML of the checks (``escape``: the page's escaping function)."""
    if not checks:
        return ""
    parts = [f"<h3>Star checks</h3><p class='star-intro'>{escape(INTRO)}</p>"]
    head = "".join(f"<th>{escape(h)}</th>" for h in sc.TABLE_HEADERS)
    for number, check in enumerate(checks, 1):
        ratio = check.flux_ratio()
        rows = []
        for row in sc.table_rows(check):
            cls = " class='ratio'" if row[0] == "B / A" else ""
            rows.append(f"<tr{cls}>" + "".join(f"<td>{escape(c)}</td>" for c in row) + "</tr>")
        parts.append(f"<table class='stars' data-star='{number}' data-step='{escape(check.step)}'"
                     f" data-flux-ratio='{'' if ratio is None else repr(ratio)}'><caption>Star "
                     f"{number}: {escape(sc.check_title(check))}</caption><thead><tr>{head}"
                     f"</tr></thead><tbody>{''.join(rows)}</tbody></table>")
    return "".join(parts)


def pdf(checks: Sequence[StarCheck], width: float) -> list:
    """Flowables for the PDF: a heading, and a caption and a table per star."""
    if not checks:
        return []
    from reportlab.lib import colors
    from reportlab.lib.units import mm

    from .pdf_parts import para, styles, table

    s = styles()
    story = [para("Star checks", s["h3"]), para(INTRO, s["small"])]
    fixed = [34 * mm, 13 * mm, 13 * mm, 13 * mm, 12 * mm, 15 * mm, 20 * mm, 18 * mm]
    widths = fixed + [max(20 * mm, width - sum(fixed))]
    for number, check in enumerate(checks, 1):
        rows = [list(row) for row in sc.table_rows(check)]
        extra = [("BACKGROUND", (0, i), (-1, i), colors.HexColor("#f0f0e1"))
                 for i, row in enumerate(rows, 1) if row[0] == "B / A"]
        story.append(para(f"Star {number}: {sc.check_title(check)}", s["small"]))
        story.append(table(list(sc.TABLE_HEADERS), rows, widths, extra))
    return story
