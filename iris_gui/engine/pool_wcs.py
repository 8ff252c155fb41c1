"""An astropy WCS sent from a worker process to the window exactly (``pool_results`` uses it).

astropy pickles a WCS through a FITS header written with wcslib's default precision (14
significant digits) and in PC form: the window's copy of a CD-matrix WCS would then be a PC one
whose matrix differs in the last bits, and a _cal exported from it (its gwcs matrix) would not be
the same bytes as one exported from the worker's own. Here the header is written with 17
significant digits (every double exactly), a CD matrix stays CDi_j, SIP coefficients are added
exactly, and the WCS is made from that header again: the same numbers, the same form.

A WCS with lookup-table distortions (cpdis, det2im), which the engine never makes, is left to
astropy's own pickling.
"""

from __future__ import annotations

import sys
import warnings
from typing import Any


def _card(key: str, value: Any) -> str:
    """A header card holding ``value`` exactly (free format: wider than 20 characters if
    need be)."""
    text = repr(float(value)).replace("e", "E") if isinstance(value, float) else str(value)
    return f"{key:<8}= {text:>20}".ljust(80)


def _sip_cards(sip) -> list[str]:
    cards = []
    for letter, matrix in (("A", sip.a), ("B", sip.b), ("AP", sip.ap), ("BP", sip.bp)):
        if matrix is None:
            continue
        order = matrix.shape[0] - 1
        cards.append(_card(f"{letter}_ORDER", order))
        cards += [_card(f"{letter}_{p}_{q}", float(matrix[p, q]))
                  for p in range(order + 1) for q in range(order + 1 - p) if matrix[p, q] != 0]
    return cards


def is_wcs(obj: Any) -> bool:
    module = sys.modules.get("astropy.wcs")  # never imported here for a result without one
    return module is not None and isinstance(obj, module.WCS)


def reduce_wcs(wcs) -> Any:
    """The pickle reduction of ``wcs`` (NotImplemented: astropy's own)."""
    from astropy import wcs as astropy_wcs

    if any(getattr(wcs, name, None) is not None
           for name in ("cpdis1", "cpdis2", "det2im1", "det2im2")):
        return NotImplemented
    text = wcs.wcs.to_header(astropy_wcs.WCSHDO_all | astropy_wcs.WCSHDO_P17)
    cards = [text[i:i + 80] for i in range(0, len(text), 80)]
    cards = [card for card in cards if card[:8].strip() not in ("", "END")]
    if wcs.wcs.has_cd():
        cards = [card for card in cards if not card.startswith(("PC", "CDELT"))]
        cd = wcs.wcs.cd
        cards += [_card(f"CD{i + 1}_{j + 1}", float(cd[i, j]))
                  for i in range(cd.shape[0]) for j in range(cd.shape[1])]
    if wcs.sip is not None:
        cards += _sip_cards(wcs.sip)
    return rebuild_wcs, ("".join(cards), wcs.pixel_shape, wcs.pixel_bounds)


def rebuild_wcs(text: str, pixel_shape, pixel_bounds):
    from astropy.io import fits
    from astropy.wcs import WCS

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the header was written by wcslib from a valid WCS
        wcs = WCS(fits.Header.fromstring(text), relax=True, fix=False)
        wcs.wcs.set()
    wcs.pixel_shape = pixel_shape
    wcs.pixel_bounds = pixel_bounds
    return wcs
