"""What the inspection views show, computed without Qt (numpy / astropy only, testable alone).

- ``view_sources``  what can be shown for one step: Before, After, Difference, Ratio, ERR, DQ, ...
                    (``ViewSource``: a 2-D frame per integration, a pixel's value, cache keys)
- ``stretch``       stretches, limits (zscale / percentile / min-max), ``FrameInfo``, the ``uint8``
                    index image (``quantize``), ``format_limit`` for the limit fields
- ``frames``        the derived frames: Difference, its ERR (quadrature sum), Ratio
- ``colour_tables`` colormaps as 256-entry tables, the NaN colour, the DQ overlay palette
- ``dq_flags``      pixels per DQ flag, newly flagged (``after & ~before``), overlay masks and
                    their max-pooled pyramids, the DQ table's row labels
- ``regions``       box / circle regions and their statistics table
- ``readout``       the cursor readout: pixel, RA/Dec, value / ERR / DQ per pane
- ``maths``         the public names of stretch, frames, dq_flags, regions, readout in one place

The Qt side (widgets, worker pool) is in ``iris_gui.gui``.
"""
