"""Speed of the docks that follow the cursor (issue 14: >= 30 updates/s on 4096², nothing on the
GUI thread longer than 20 ms):

    python tests/benchmarks/bench_inspect_docks.py [--size 4096] [--moves 300] [--table 11]
    QT_QPA_PLATFORM=xcb xvfb-run -a -s "-screen 0 1600x1000x24" \
        python tests/benchmarks/bench_inspect_docks.py

A flat_field-like result of size² float32 frames (Before, After, Difference shown) in a real
``StepImageView`` with the Pixel table docked beside it (its panel visible). Each move is one
mouse-move event over pane A to the next pixel of a diagonal (what the scene's ``sigMouseMoved``
delivers), then the table's viewport is repainted; the rate is moves / wall time, the longest
stall the longest single move. The panes show Before / Difference, so one table computes a
difference on its cut-out.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

import numpy as np

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


def build_result(size: int):
    from iris_gui.engine.association import Member, Product
    from iris_gui.engine.config import PipelineConfig
    from iris_gui.engine.dq import DQ_FLAGS
    from iris_gui.engine.models import ImageModel
    from iris_gui.engine.pipeline import ProductResult
    from iris_gui.engine.steps.base import StepResult

    rng = np.random.default_rng(3)
    data = rng.normal(100.0, 5.0, (size, size)).astype(np.float32)
    dq = np.zeros((size, size), np.uint32)
    dq.flat[rng.choice(size * size, size * size // 500, replace=False)] = DQ_FLAGS["HOT"]
    before = ImageModel(data=data, err=np.ones_like(data), dq=dq)
    after = before.derive(data=(data * np.float32(1.02)).astype(np.float32))
    result = ProductResult(Product("bench", [Member("bench_rate.fits", "science")]),
                           PipelineConfig(), "", input_model=before)
    result.steps["flat_field"] = StepResult("COMPLETE", after)
    return result


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=4096)
    parser.add_argument("--moves", type=int, default=300)
    parser.add_argument("--table", type=int, default=11)
    args = parser.parse_args(argv)

    from PySide6.QtCore import QPointF
    from PySide6.QtWidgets import QApplication, QHBoxLayout, QWidget

    from iris_gui.display import view_sources as vs
    from iris_gui.gui.image_view import StepImageView
    from iris_gui.gui.view_pixel_table import PixelTablePanel

    app = QApplication.instance() or QApplication(sys.argv[:1])
    holder = QWidget()
    layout = QHBoxLayout(holder)
    view = StepImageView()
    panel = PixelTablePanel(view)
    layout.addWidget(view, 3)
    layout.addWidget(panel, 2)
    holder.resize(1600, 900)
    holder.show()
    view.state.pixel_table_size = args.table
    view.show_step(build_result(args.size), "flat_field")
    view.choose("B", vs.DIFFERENCE)
    deadline = time.perf_counter() + 120
    while (view.busy or view.left.index is None) and time.perf_counter() < deadline:
        app.processEvents()
        time.sleep(0.005)
    pane = view.left
    centre = args.size // 2
    times = []
    started = time.perf_counter()
    for k in range(args.moves):
        t0 = time.perf_counter()
        point = pane.view_box.mapViewToScene(QPointF(centre + k % 200 + 0.2, centre + k % 200))
        pane.plot.scene().sigMouseMoved.emit(point)
        for table in panel.tables.values():
            table.viewport().repaint()
        app.processEvents()
        times.append(time.perf_counter() - t0)
    wall = time.perf_counter() - started
    assert panel.blocks["A"].centre == view.cursor
    print(f"pixel table {args.table}x{args.table}, both panes, {args.size}² frames "
          f"(A Before, B Difference), {args.moves} mouse moves:")
    print(f"  {args.moves / wall:.0f} updates/s; per move median "
          f"{statistics.median(times) * 1e3:.2f} ms, longest {max(times) * 1e3:.2f} ms")
    view.shutdown()
    holder.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
