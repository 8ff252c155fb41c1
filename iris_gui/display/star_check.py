"""Star check (ginga's Pick), without Qt: click near a star, get its centroid, FWHM, peak,
aperture flux and local sky in both panes, so a reviewer sees whether a step keeps a star's flux
and shape (flat_field on the same pixels; resample on another grid, placed through the WCS).

One pane (``measure_star``), with photutils:

1. the sky annulus (inner, outer radius) must lie inside the frame, else "too near the edge";
2. local sky = median of the annulus pixels (pixel centres inside it, NaN and DO_NOT_USE left
   out), its scatter 1.4826 x MAD;
3. the brightest pixel within ``search`` px of the click must stand ``DETECTION_SIGMA`` x that
   scatter above the sky, else "no star";
4. centroid: ``photutils.centroids.centroid_2dg`` on the sky-subtracted box of half-width the
   aperture radius around that pixel (``centroid_com`` if the fit wanders off the box);
5. the sky again, around the centroid; FWHM from ``photutils.psf.fit_fwhm`` (a circular
   Gaussian integrated over each pixel, as a detector records it, so a Gaussian of sigma s
   gives 2.3548 s); flux = the aperture sum (exact pixel overlap) minus sky x area
   (``ApertureStats`` with ``local_bkg``); peak = the brightest pixel in the aperture above sky.
   The exact overlap spreads each pixel's value evenly over the pixel, which undercounts where
   the profile is steep at the aperture's edge: 2.5 % at r = 1.5 sigma, 0.03 % at r = 4 sigma
   (r = 1.7 FWHM). With the default 4 px aperture a star of FWHM 3 px is undercounted by 0.4 %
   and holds 99 % of its flux; Before and After are measured alike, so their ratio is unbiased
   on the same grid.

Both panes (``measure_check``): the pane clicked first; then the other pane at the same pixel
when both are on the same grid (same shape, neither or both resampled), else through the WCS:
the first centroid to the sky and into the other pane's pixels, radii scaled by the ratio of
the pixel scales, and the centroid searched again there (``wcs_offset`` is how far it moved).

photutils (and scipy) load on first use, off the GUI thread.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, replace

import numpy as np

from ..state.star_checks import DEFAULT_STAR_RADII, StarCheck, StarMeasure

__all__ = ["DETECTION_SIGMA", "SEARCH_RADIUS", "StarFrame", "NoStar", "measure_star",
           "measure_check", "frame_of", "same_grid"]

#: the brightest pixel must stand this many sky sigmas above the sky to count as a star
DETECTION_SIGMA = 5.0
#: how far from the click (pixels of the clicked pane) the brightest pixel is looked for
SEARCH_RADIUS = 5.0
#: fewest usable sky pixels in the annulus
MIN_SKY_PIXELS = 8
DO_NOT_USE = 1


class NoStar(ValueError):
    """No star could be measured there; the message says why in the user's words."""


@dataclass
class StarFrame:
    """What one pane shows, for measuring: its 2-D frame, DQ, WCS, units and name."""

    role: str
    label: str
    data: np.ndarray
    dq: np.ndarray | None = None
    wcs: object = None
    unit: str = ""
    #: a resampled product (its own pixel grid: positions go through the WCS)
    resampled: bool = False
    #: ``data`` / ``dq`` may be a cut-out of the frame: its first pixel's (x, y) in the frame,
    #: and the frame's shape (None: ``data`` is the whole frame)
    origin: tuple[int, int] = (0, 0)
    full_shape: tuple[int, int] | None = None

    @property
    def shape(self) -> tuple[int, int]:
        """The frame's (ny, nx), cut-out or not."""
        return tuple(self.full_shape) if self.full_shape is not None else self.data.shape


def frame_of(role: str, source, plane: int) -> StarFrame:
    """The ``StarFrame`` of a ``view_sources.ViewSource`` (numpy work: call it off the GUI
    thread for a derived view)."""
    model = source.model
    unit = str(model.sci_header.get("BUNIT", "") or model.header.get("BUNIT", "") or "")
    resampled = "PXSCLRT" in model.header or "WHT" in model.extra_arrays
    return StarFrame(role, source.label, np.asarray(source.frame(plane)), source.dq_frame(plane),
                     model.wcs, unit, resampled)


def same_grid(a: StarFrame, b: StarFrame) -> bool:
    return a.shape == b.shape and a.resampled == b.resampled


def window_room(radii: tuple[float, float, float], search: float = SEARCH_RADIUS) -> int:
    """How far (pixels) from the position given ``measure_star`` reads: the search, the
    centroid box and the sky annulus around a centroid that far off."""
    half = max(2, int(math.ceil(radii[0])))
    return int(math.ceil(max(search, 0.5) + half + radii[2])) + 3


def _pixel_scale_arcsec(wcs) -> float | None:
    if wcs is None:
        return None
    from ..engine.wcs import pixel_scale_deg

    try:
        scale = pixel_scale_deg(wcs) * 3600.0
    except Exception:  # noqa: BLE001 - a WCS without a celestial scale: no arcsec
        return None
    return scale if math.isfinite(scale) and scale > 0 else None


def _pixel_area_sr(wcs) -> float | None:
    if wcs is None:
        return None
    from ..engine.wcs import pixel_area_sr

    try:
        area = pixel_area_sr(wcs)
    except Exception:  # noqa: BLE001
        return None
    return area if math.isfinite(area) and area > 0 else None


def _sky(data: np.ndarray, usable: np.ndarray, x: float, y: float, inner: float,
         outer: float) -> tuple[float, float, int]:
    ny, nx = data.shape
    y0, y1 = max(0, int(math.floor(y - outer))), min(ny, int(math.ceil(y + outer)) + 1)
    x0, x1 = max(0, int(math.floor(x - outer))), min(nx, int(math.ceil(x + outer)) + 1)
    yy, xx = np.mgrid[y0:y1, x0:x1]
    r2 = (xx - x) ** 2 + (yy - y) ** 2
    ring = (r2 >= inner * inner) & (r2 <= outer * outer) & usable[y0:y1, x0:x1]
    values = data[y0:y1, x0:x1][ring].astype(np.float64)
    if values.size < MIN_SKY_PIXELS:
        return math.nan, math.nan, int(values.size)
    median = float(np.median(values))
    return median, float(1.4826 * np.median(np.abs(values - median))), int(values.size)


def _check_inside(shape: tuple[int, int], x: float, y: float, outer: float, where: str) -> None:
    ny, nx = shape
    room = min(x + 0.5, nx - 0.5 - x, y + 0.5, ny - 0.5 - y)
    if room < outer:
        if room < 0:
            raise NoStar(f"{where} is outside the frame ({nx}x{ny})")
        raise NoStar(f"too near the edge: {where} is {room:.1f} px from the frame's edge and "
                     f"the sky annulus reaches {outer:g} px; pick a star further in or use "
                     f"smaller radii")


def measure_star(frame: StarFrame, x: float, y: float,
                 radii: tuple[float, float, float] = DEFAULT_STAR_RADII, *,
                 search: float = SEARCH_RADIUS, position_by: str = "clicked") -> StarMeasure:
    """The star nearest (x, y) (0-based pixels) in ``frame``; raises ``NoStar`` (its message
    names the position and why) when there is none to measure.

    Only the window the search, the centroid box and the annulus can reach is read, so a pick
    costs the same on a 4096² frame as on a small one (and holds the GIL a moment only)."""
    from photutils.aperture import ApertureStats, CircularAperture
    from photutils.centroids import centroid_2dg, centroid_com
    from photutils.psf import fit_fwhm

    aperture, inner, outer = radii
    where = f"x = {x:.1f}, y = {y:.1f}"
    if frame.data.ndim != 2:
        raise NoStar(f"{frame.label} is not a 2-D frame")
    full_shape = frame.shape
    _check_inside(full_shape, x, y, outer, where)
    reach = max(search, 0.5)
    half = max(2, int(math.ceil(aperture)))
    room = window_room(radii, search)
    fy, fx = int(math.floor(y)), int(math.floor(x))
    oy, ox = max(0, fy - room), max(0, fx - room)
    ey, ex = min(full_shape[0], fy + room + 1), min(full_shape[1], fx + room + 1)
    (cx0, cy0), (cny, cnx) = frame.origin, frame.data.shape
    if oy < cy0 or ox < cx0 or ey > cy0 + cny or ex > cx0 + cnx:
        raise NoStar(f"no star at {where}: it is beyond the part of {frame.label} read for "
                     f"this pick (x {cx0}-{cx0 + cnx - 1}, y {cy0}-{cy0 + cny - 1})")
    window = (slice(oy - cy0, ey - cy0), slice(ox - cx0, ex - cx0))
    data = frame.data[window]
    dq = frame.dq[window] if frame.dq is not None and frame.dq.shape == frame.data.shape \
        else None
    x, y = x - ox, y - oy                       # window coordinates from here on
    usable = np.isfinite(data)
    if dq is not None:
        usable &= (dq & DO_NOT_USE) == 0
    sky, sky_std, n_sky = _sky(data, usable, x, y, inner, outer)
    if not math.isfinite(sky):
        raise NoStar(f"no sky at {where}: the annulus {inner:g}-{outer:g} px has only {n_sky} "
                     f"usable pixels (NaN or DO_NOT_USE)")

    # the brightest usable pixel within the search radius
    ny, nx = data.shape
    y0, y1 = max(0, int(math.floor(y - reach))), min(ny, int(math.ceil(y + reach)) + 1)
    x0, x1 = max(0, int(math.floor(x - reach))), min(nx, int(math.ceil(x + reach)) + 1)
    yy, xx = np.mgrid[y0:y1, x0:x1]
    near = ((xx - x) ** 2 + (yy - y) ** 2 <= reach * reach) & usable[y0:y1, x0:x1]
    if not near.any():
        raise NoStar(f"no star at {where}: no usable pixel within {reach:g} px")
    patch = np.where(near, data[y0:y1, x0:x1], -np.inf)
    py, px = np.unravel_index(int(np.argmax(patch)), patch.shape)
    px, py = px + x0, py + y0
    height = float(data[py, px]) - sky
    snr = height / sky_std if sky_std > 0 else (math.inf if height > 0 else 0.0)
    if snr < DETECTION_SIGMA:
        raise NoStar(f"no star at {where}: the brightest pixel within {reach:g} px is "
                     f"{snr:.1f}σ above the local sky (a star needs {DETECTION_SIGMA:g}σ)")

    # centroid in the box around the brightest pixel
    by0, by1 = max(0, py - half), min(ny, py + half + 1)
    bx0, bx1 = max(0, px - half), min(nx, px + half + 1)
    box = data[by0:by1, bx0:bx1].astype(np.float64) - sky
    box_mask = ~usable[by0:by1, bx0:bx1]
    box = np.where(box_mask, 0.0, box)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            cx, cy = centroid_2dg(box, mask=box_mask)
        except Exception:  # noqa: BLE001 - a fit that fails: the centre of mass instead
            cx = cy = math.nan
        if not (np.isfinite(cx) and np.isfinite(cy)) or abs(cx + bx0 - px) > half \
                or abs(cy + by0 - py) > half:
            cx, cy = centroid_com(np.clip(box, 0, None), mask=box_mask)
    xc, yc = float(cx) + float(bx0), float(cy) + float(by0)
    if not (math.isfinite(xc) and math.isfinite(yc)):
        raise NoStar(f"no star at {where}: its centroid could not be found")
    where_c = f"the star at x = {xc + ox:.1f}, y = {yc + oy:.1f}"
    _check_inside(full_shape, xc + ox, yc + oy, outer, where_c)
    sky, sky_std, n_sky = _sky(data, usable, xc, yc, inner, outer)
    if not math.isfinite(sky):
        raise NoStar(f"no sky around {where_c}: the annulus has only {n_sky} usable pixels")

    # FWHM, flux and peak on the sky-subtracted cut-out around the centroid
    cut = int(math.ceil(outer)) + 1
    cy0, cy1 = max(0, int(yc) - cut), min(ny, int(yc) + cut + 1)
    cx0, cx1 = max(0, int(xc) - cut), min(nx, int(xc) + cut + 1)
    cutout = data[cy0:cy1, cx0:cx1].astype(np.float64)
    mask = ~usable[cy0:cy1, cx0:cx1]
    lx, ly = xc - cx0, yc - cy0
    fit_shape = 2 * max(2, int(math.ceil(aperture))) + 1
    fit_shape = min(fit_shape, (min(cutout.shape) - 1) | 1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            fwhm = float(np.atleast_1d(fit_fwhm(cutout - sky, xypos=(lx, ly),
                                                fit_shape=fit_shape, mask=mask))[0])
        except Exception:  # noqa: BLE001 - no FWHM rather than no check
            fwhm = math.nan
        stats = ApertureStats(cutout, CircularAperture((lx, ly), aperture), mask=mask,
                              local_bkg=sky)
        flux, peak = float(stats.sum), float(stats.max)
    fwhm_ok = math.isfinite(fwhm) and 0 < fwhm < 4 * outer
    aperture_pixels = CircularAperture((lx, ly), aperture).to_mask(method="center")\
        .to_image(cutout.shape).astype(bool)
    flagged = 0 if dq is None else int(np.count_nonzero(dq[cy0:cy1, cx0:cx1][aperture_pixels]))
    masked = int(np.count_nonzero(mask[aperture_pixels]))
    xc, yc = xc + ox, yc + oy                   # frame coordinates again
    return placed_on_sky(StarMeasure(
        frame.role, frame.label, position_by, xc, yc, None, None,
        peak if math.isfinite(peak) else None, fwhm if fwhm_ok else None, None,
        flux if math.isfinite(flux) else None, sky, sky_std, aperture, flagged, masked,
        frame.unit, None), frame.wcs)


def placed_on_sky(measure: StarMeasure, wcs) -> StarMeasure:
    """``measure`` (made without a WCS) with what ``wcs`` adds: the centroid's RA/Dec, the
    FWHM in arcsec, the pixel area. Apart from ``measure_star`` so that a measure made
    elsewhere (the measuring process, sent no WCS) is placed with the very same WCS here."""
    if wcs is None:
        return measure
    ra = dec = None
    try:
        world = wcs.all_pix2world([[measure.x, measure.y]], 0)[0]
        ra, dec = float(world[0]), float(world[1])
    except Exception:  # noqa: BLE001 - a WCS that cannot place it: no sky position
        ra = dec = None
    scale = _pixel_scale_arcsec(wcs)
    fwhm = measure.fwhm_px
    return replace(measure, ra=ra, dec=dec,
                   fwhm_arcsec=fwhm * scale if fwhm is not None and scale else None,
                   pixel_area_sr=_pixel_area_sr(wcs))


def _failed(frame: StarFrame, position_by: str, message: str) -> StarMeasure:
    return StarMeasure(frame.role, frame.label, position_by, error=message)


def measure_check(frames: dict[str, StarFrame], clicked: str, x: float, y: float,
                  radii: tuple[float, float, float] = DEFAULT_STAR_RADII, *, product: str = "",
                  step: str = "", plane: int = 0, measure=None) -> StarCheck:
    """Measure the star near (x, y) of pane ``clicked``, then the same star in the other pane
    (module docstring). Raises ``NoStar`` when the clicked pane has none; a failure in the other
    pane is kept in its measure's ``error``. ``measure`` stands for ``measure_star`` (same
    arguments and answers), e.g. one that measures in another process."""
    measure_star_ = measure or measure_star
    first_frame = frames[clicked]
    first = measure_star_(first_frame, x, y, radii)
    measures = {clicked: first}
    for role, frame in frames.items():
        if role == clicked:
            continue
        if same_grid(first_frame, frame):
            try:
                measures[role] = measure_star_(frame, first.x, first.y, radii, search=2.0,
                                               position_by="same pixel")
            except NoStar as exc:
                measures[role] = _failed(frame, "same pixel", str(exc))
            continue
        if first_frame.wcs is None or frame.wcs is None:
            measures[role] = _failed(frame, "WCS", (
                f"{frame.label} is on another pixel grid and "
                f"{'it' if frame.wcs is None else first_frame.label} has no WCS to place the "
                f"star there"))
            continue
        try:
            world = first_frame.wcs.all_pix2world([[first.x, first.y]], 0)
            bx, by = (float(v) for v in frame.wcs.all_world2pix(world, 0)[0])
        except Exception as exc:  # noqa: BLE001 - a WCS that cannot invert there
            measures[role] = _failed(frame, "WCS", f"the WCS cannot place the star in "
                                                   f"{frame.label}: {exc}")
            continue
        scale_first = _pixel_scale_arcsec(first_frame.wcs)
        scale_other = _pixel_scale_arcsec(frame.wcs)
        ratio = scale_first / scale_other if scale_first and scale_other else 1.0
        scaled = tuple(r * ratio for r in radii)
        try:
            found = measure_star_(frame, bx, by, scaled, search=max(2.0, 2.0 * ratio),
                                  position_by="WCS")
        except NoStar as exc:
            measures[role] = _failed(frame, "WCS", f"{exc} (placed by the WCS at x = {bx:.1f}, "
                                                   f"y = {by:.1f})")
            continue
        offset = math.hypot(found.x - bx, found.y - by)
        measures[role] = replace(found, wcs_offset=offset)
    ordered = tuple(measures[r] for r in sorted(measures))
    return StarCheck(product, step, clicked, float(x), float(y), plane, tuple(radii), ordered)


# ---- the table (dock, copied text and review report) ----------------------------------------------
#: columns of a star check's table: one row per pane, then the B / A ratios (what a reviewer
#: compares first, so a narrow dock shows it without scrolling)
TABLE_HEADERS = ("Pane", "Flux", "FWHM px", "FWHM ″", "Peak", "Sky", "x", "y", "Note")


def _g(value: float | None, digits: int = 5) -> str:
    return "—" if value is None else f"{value:.{digits}g}"


def measure_note(measure: StarMeasure) -> str:
    """How the pane's position was found, and anything to know about its numbers."""
    if measure.error:
        return measure.error
    parts = []
    if measure.position_by == "WCS":
        moved = f", centroid {measure.wcs_offset:.2f} px from there" \
            if measure.wcs_offset is not None else ""
        parts.append(f"position by WCS (another grid; radii scaled to {measure.aperture:g} px)"
                     f"{moved}")
    elif measure.position_by == "same pixel":
        parts.append("same pixel grid")
    if measure.flagged:
        parts.append(f"{measure.flagged} flagged px in the aperture")
    if measure.masked:
        parts.append(f"{measure.masked} px left out (NaN / DO_NOT_USE)")
    if measure.fwhm_px is None:
        parts.append("no FWHM (the fit failed)")
    return "; ".join(parts)


def check_title(check: StarCheck, one_based: bool = False) -> str:
    base = 1 if one_based else 0
    radii = "/".join(f"{r:g}" for r in check.radii)
    plane = f", integration {check.plane + 1}" if check.plane else ""
    return (f"{check.product} · {check.step}{plane}: pane {check.clicked} clicked at "
            f"({check.x + base:.1f}, {check.y + base:.1f}); radii {radii} px")


def table_rows(check: StarCheck, one_based: bool = False) -> list[tuple[str, ...]]:
    """One row per pane (``TABLE_HEADERS``) and a last "B / A" row of the ratios."""
    base = 1 if one_based else 0
    rows = []
    for m in check.measures:
        pane = f"{m.role}: {m.label}"
        if not m.ok:
            rows.append((pane, "—", "—", "—", "—", "—", "—", "—", measure_note(m)))
            continue
        sky = f"{m.sky:.5g} ± {m.sky_std:.2g}" if m.sky_std is not None else _g(m.sky)
        unit = f" {m.unit}" if m.unit else ""
        rows.append((pane, f"{_g(m.flux, 6)}{unit}", _g(m.fwhm_px, 4), _g(m.fwhm_arcsec, 4),
                     _g(m.peak), sky, f"{m.x + base:.2f}", f"{m.y + base:.2f}",
                     measure_note(m)))
    ratio, fwhm = check.flux_ratio(), check.fwhm_ratio()
    if len(check.measures) == 2:
        a, b = check.measure("A"), check.measure("B")
        how = ""
        if ratio is not None and a.surface_brightness and b.surface_brightness and \
                a.pixel_area_sr and b.pixel_area_sr:
            how = "fluxes × pixel area (surface brightness)"
        by = "FWHM in arcsec" if a is not None and b is not None and a.fwhm_arcsec and \
            b.fwhm_arcsec else "FWHM in pixels"
        rows.append(("B / A", _g(ratio, 6), _g(fwhm, 5), "", "", "", "", "",
                     "; ".join(p for p in (how, by if fwhm is not None else "") if p)))
    return rows


def checks_text(checks, one_based: bool = False) -> str:
    """Every check as tab-separated text (what Copy puts on the clipboard)."""
    blocks = []
    for index, check in enumerate(checks, 1):
        lines = [f"Star {index}: {check_title(check, one_based)}", "\t".join(TABLE_HEADERS)]
        lines += ["\t".join(row) for row in table_rows(check, one_based)]
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks) + ("\n" if blocks else "")
