"""Before / after images of the selected step: two linked pyqtgraph panes.

A plain view (the full inspection tools come later): each pane picks what it shows (the step's
input, its output, and for bkg_subtract the combined background and the _bsub product), both panes
pan and zoom together, and a readout gives the pixel values under the cursor (0-based x, y).
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QSpinBox, QVBoxLayout, QWidget

from ..engine.models import ImageModel
from ..engine.pipeline import ProductResult

pg.setConfigOptions(imageAxisOrder="row-major", antialias=False)

#: at most this many pixels go into the display-level estimate
LEVEL_SAMPLE = 250_000


def display_levels(image: np.ndarray) -> tuple[float, float]:
    """0.5 and 99.5 percentiles of the finite pixels, from a regular subsample."""
    step = max(1, int(np.sqrt(image.size / LEVEL_SAMPLE)))
    sample = image[::step, ::step]
    sample = sample[np.isfinite(sample)]
    if sample.size == 0:
        return 0.0, 1.0
    low, high = np.percentile(sample, [0.5, 99.5])
    if not high > low:
        high = low + 1.0
    return float(low), float(high)


def step_views(result: ProductResult | None, step_name: str) -> dict[str, ImageModel]:
    """What can be shown for ``step_name``: name -> model, in menu order."""
    if result is None:
        return {}
    views: dict[str, ImageModel] = {}
    before = result.before(step_name)
    step = result.steps.get(step_name)
    if before is not None:
        views["Before (input)"] = before
    if step is not None and step.model is not None and step.status != "FAILED":
        views["After (output)"] = step.model
        for key, model in step.products.items():
            views[f"{key.capitalize()} (combined)" if key == "background" else key] = model
        if step_name == "bkg_subtract" and step.status == "COMPLETE":
            views["_bsub product"] = step.model
    return views


class ImagePane(QWidget):
    def __init__(self, title: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        header = QHBoxLayout()
        self.title = QLabel(title, self)
        self.title.setStyleSheet("font-weight: bold")
        header.addWidget(self.title)
        self.choice = QComboBox(self)
        self.choice.setMinimumWidth(160)
        header.addWidget(self.choice, 1)
        layout.addLayout(header)
        self.plot = pg.PlotWidget(self)
        self.plot.setAspectLocked(True)
        self.plot.showGrid(False, False)
        self.image = pg.ImageItem()
        self.plot.addItem(self.image)
        layout.addWidget(self.plot, 1)
        self.model: ImageModel | None = None
        self.array: np.ndarray | None = None

    def show_array(self, model: ImageModel | None, plane: int) -> None:
        self.model = model
        if model is None:
            self.array = None
            self.image.clear()
            return
        data = model.data[plane] if model.data.ndim == 3 else model.data
        self.array = data
        self.image.setImage(data, levels=display_levels(data), autoLevels=False)


class StepImageView(QWidget):
    """Two linked panes showing what one step did."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        top = QHBoxLayout()
        self.caption = QLabel("Run a product to see each step's input and output.", self)
        top.addWidget(self.caption, 1)
        top.addWidget(QLabel("Integration", self))
        self.plane = QSpinBox(self)
        self.plane.setEnabled(False)
        self.plane.valueChanged.connect(lambda _v: self._redraw())
        top.addWidget(self.plane)
        layout.addLayout(top)
        panes = QHBoxLayout()
        self.left = ImagePane("Show", self)
        self.right = ImagePane("beside", self)
        self.right.plot.setXLink(self.left.plot)
        self.right.plot.setYLink(self.left.plot)
        panes.addWidget(self.left, 1)
        panes.addWidget(self.right, 1)
        layout.addLayout(panes, 1)
        self.readout = QLabel(" ", self)
        self.readout.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(self.readout)
        self.views: dict[str, ImageModel] = {}
        for pane in (self.left, self.right):
            pane.choice.currentTextChanged.connect(lambda _t: self._redraw())
            pane.plot.scene().sigMouseMoved.connect(lambda pos, p=pane: self._mouse_moved(p, pos))
        self._fitted_shape: tuple | None = None

    def show_step(self, result: ProductResult | None, step_name: str) -> None:
        self.views = step_views(result, step_name)
        names = list(self.views)
        for pane, preferred in ((self.left, "Before (input)"), (self.right, "After (output)")):
            keep = pane.choice.currentText()
            pane.choice.blockSignals(True)
            pane.choice.clear()
            pane.choice.addItems(names)
            if keep in names and keep not in ("Before (input)", "After (output)"):
                pane.choice.setCurrentText(keep)
            elif preferred in names:
                pane.choice.setCurrentText(preferred)
            pane.choice.blockSignals(False)
        any_model = next(iter(self.views.values()), None)
        nints = any_model.nints if any_model is not None else 1
        self.plane.setEnabled(nints > 1)
        self.plane.setRange(0, max(0, nints - 1))
        if result is None:
            self.caption.setText("Run a product to see each step's input and output.")
        else:
            step = result.steps.get(step_name)
            status = step.status if step else "not run"
            self.caption.setText(f"{result.product.name} — {step_name}: {status}")
        self._redraw()

    def _redraw(self) -> None:
        plane = self.plane.value()
        for pane in (self.left, self.right):
            pane.show_array(self.views.get(pane.choice.currentText()), plane)
        shape = self.left.array.shape if self.left.array is not None else None
        if shape is not None and shape != self._fitted_shape:
            self.left.plot.autoRange()
            self._fitted_shape = shape

    def _mouse_moved(self, pane: ImagePane, position) -> None:
        if pane.array is None:
            return
        point = pane.plot.getViewBox().mapSceneToView(position)
        x, y = int(np.floor(point.x())), int(np.floor(point.y()))
        parts = [f"x={x} y={y} (0-based)"]
        for other in (self.left, self.right):
            array = other.array
            if array is not None and 0 <= y < array.shape[0] and 0 <= x < array.shape[1]:
                parts.append(f"{other.choice.currentText()}: {array[y, x]:.6g}")
        self.readout.setText("    ".join(parts))
