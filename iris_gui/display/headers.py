"""The headers of a product, extension by extension, and which keywords a step wrote, changed or
removed compared with its input (the Header dock).

Facts the code relies on:

- The headers are those ``engine.models.model_to_hdul`` gives the model: PRIMARY (the model's
  header), SCI (its ``sci_header``), ERR, DQ and any SUBARR_MAP / AREA / extra arrays, with the
  structural cards astropy derives from the arrays (BITPIX, NAXISn, BZERO of the uint32 DQ).
  No array is copied (``model_to_hdul`` wraps native arrays as they are). The files written by
  an export carry, in addition, the PROVENANCE table and its stamp (``outputs.stamp_model``).
- Extensions are matched by name (PRIMARY with PRIMARY, SCI with SCI, ...); an extension the
  input has not got is wholly "added".
- Keywords are matched by name and occurrence (the second ``FOO`` with the input's second
  ``FOO``); COMMENT, HISTORY and blank cards by their text, counted: a HISTORY line the step
  appended is "added" even when an identical line was already there once.
- A pane's product is compared with the step's input (the Before view's model) when it is what
  the step made: After, Difference, Ratio, their ERR / DQ, the step's own products (i2d, dark,
  ...). The input itself, the exposure, other steps' outputs, the combined background and
  other products' frames have nothing of this step to compare with.
- A value is "changed" when it differs in type or value: ``T`` is not ``1`` and ``1`` is not
  ``1.0`` in a FITS header. A comment that alone differs is not a change.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from ..engine.models import ImageModel, model_to_hdul
from .view_sources import (
    BEFORE,
    OTHER_ROLES_NOT_COMPARED,
    StepViews,
    ViewSource,
    other_product_label,
)

__all__ = ["compared_input", "SAME", "CHANGED", "ADDED", "REMOVED", "HeaderRow", "model_headers",
           "compare_headers", "matching", "rows_text", "status_counts"]

SAME, CHANGED, ADDED, REMOVED = "same", "changed", "added", "removed"
#: the mark of each status in the copied text (as in a diff)
MARKS = {SAME: " ", CHANGED: "~", ADDED: "+", REMOVED: "-"}
COMMENTARY = frozenset({"COMMENT", "HISTORY", ""})


@dataclass(frozen=True)
class HeaderRow:
    """One card of one extension as the Header dock lists it. ``before`` is the input's value
    (text) of a changed or removed keyword, else None; ``card`` is the 80-character card image
    (of the input's card for a removed keyword)."""

    extension: str
    keyword: str
    value: str
    comment: str
    status: str = SAME
    before: str | None = None
    card: str = ""


def model_headers(model: ImageModel) -> list[tuple[str, Any]]:
    """``[(extension name, astropy Header), ...]`` of ``model`` as it would be written (copies
    of the headers; see the module docstring)."""
    return [(hdu.name or ("PRIMARY" if index == 0 else f"HDU{index}"), hdu.header)
            for index, hdu in enumerate(model_to_hdul(model))]


def compared_input(views: StepViews, source: ViewSource) -> ImageModel | None:
    """The model ``source``'s header is compared with: the step's input, or None (see the
    module docstring)."""
    before = views.sources.get(BEFORE)
    if before is None or source.model is before.model or source.role in OTHER_ROLES_NOT_COMPARED:
        return None
    if source.label.startswith(other_product_label("")):
        return None
    return before.model


def value_text(value: Any) -> str:
    """A header value as FITS shows it: T / F, strings without quotes, numbers as Python
    spells them (``1`` and ``1.0`` stay apart), an undefined value empty."""
    if isinstance(value, bool):
        return "T" if value else "F"
    if isinstance(value, str):
        return value
    if value is None or type(value).__name__ == "Undefined":
        return ""
    return repr(value) if isinstance(value, float) else str(value)


def _same_value(a: Any, b: Any) -> bool:
    if type(a) is not type(b):
        return False
    if isinstance(a, float) and a != a and b != b:  # NaN
        return True
    return bool(a == b)


def _keyed_cards(header) -> tuple[dict[tuple[str, int], Any], Counter]:
    """Cards by (keyword, occurrence), and the commentary cards' texts counted."""
    keyed: dict[tuple[str, int], Any] = {}
    seen: Counter = Counter()
    commentary: Counter = Counter()
    for card in header.cards:
        key = card.keyword
        if key in COMMENTARY:
            commentary[(key, str(card.value))] += 1
            continue
        keyed[(key, seen[key])] = card
        seen[key] += 1
    return keyed, commentary


def _row(extension: str, card, status: str = SAME, before: str | None = None) -> HeaderRow:
    return HeaderRow(extension, card.keyword, value_text(card.value), str(card.comment or ""),
                     status, before, card.image.rstrip())


def compare_headers(headers: Sequence[tuple[str, Any]],
                    input_headers: Sequence[tuple[str, Any]] | None = None) -> list[HeaderRow]:
    """Every card of ``headers`` in file order, each with its status against ``input_headers``
    (None: nothing to compare with, every card "same"); keywords the input had and the product
    lost follow their extension's cards as "removed"."""
    inputs = dict(input_headers or ())
    rows: list[HeaderRow] = []
    for extension, header in headers:
        if input_headers is None:
            rows.extend(_row(extension, card) for card in header.cards)
            continue
        old = inputs.get(extension)
        if old is None:
            rows.extend(_row(extension, card, ADDED) for card in header.cards)
            continue
        old_keyed, old_commentary = _keyed_cards(old)
        seen: Counter = Counter()
        matched: set[tuple[str, int]] = set()
        for card in header.cards:
            key = card.keyword
            if key in COMMENTARY:
                text = (key, str(card.value))
                if old_commentary[text] > 0:
                    old_commentary[text] -= 1
                    rows.append(_row(extension, card))
                else:
                    rows.append(_row(extension, card, ADDED))
                continue
            ident = (key, seen[key])
            seen[key] += 1
            previous = old_keyed.get(ident)
            if previous is None:
                rows.append(_row(extension, card, ADDED))
            elif _same_value(previous.value, card.value):
                matched.add(ident)
                rows.append(_row(extension, card))
            else:
                matched.add(ident)
                rows.append(_row(extension, card, CHANGED, value_text(previous.value)))
        for ident, previous in old_keyed.items():
            if ident not in matched:
                rows.append(_row(extension, previous, REMOVED, value_text(previous.value)))
        for (key, text), count in old_commentary.items():
            for _ in range(count):
                rows.append(HeaderRow(extension, key, text, "", REMOVED, text,
                                      f"{key:<8}{text}".rstrip()))
    return rows


def matching(rows: Iterable[HeaderRow], text: str = "", changed_only: bool = False
             ) -> list[HeaderRow]:
    """The rows whose keyword, value, input value or comment contains ``text`` (any case;
    empty: all), and only those the step wrote, changed or removed when ``changed_only``."""
    needle = text.strip().lower()
    out = []
    for row in rows:
        if changed_only and row.status == SAME:
            continue
        if needle and not any(needle in part.lower() for part in
                              (row.keyword, row.value, row.comment, row.before or "")):
            continue
        out.append(row)
    return out


def status_counts(rows: Iterable[HeaderRow]) -> dict[str, int]:
    counts = Counter(row.status for row in rows)
    return {status: counts.get(status, 0) for status in (ADDED, CHANGED, REMOVED)}


def rows_text(rows: Iterable[HeaderRow], title: str = "") -> str:
    """The rows as text for the clipboard: each extension headed ``--- NAME ---``, each card
    image behind its mark (``+`` written, ``~`` changed — the input's value follows, ``-``
    removed, blank unchanged)."""
    lines = [title] if title else []
    current = None
    for row in rows:
        if row.extension != current:
            current = row.extension
            lines.append(f"--- {current} ---")
        line = f"{MARKS[row.status]} {row.card}"
        if row.status == CHANGED:
            line += f"   (input: {row.before})"
        lines.append(line)
    return "\n".join(lines)
