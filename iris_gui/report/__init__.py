"""The commissioning review report (no Qt): one self-contained ``review.html`` and a paginated
``review.pdf`` per run, from the run's results or re-made from ``_cal`` files and their
PROVENANCE.

- ``build``          ``make_report`` (the one call the window makes: progress callback,
                     CancelToken), ``ReportCollector`` (products collected as they finish, on a
                     background thread: the command line), ``write_report``, the output plan
- ``remake``         ``remake_report``: the report from ``_cal``/``_calints`` files alone
- ``collect``        a ``ProductResult`` -> ``ProductReport`` (inputs, references, parameters, checks)
- ``step_sections``  one step's pictures, DQ counts and metrics; ``step_metrics`` the metrics
- ``metrics``        the statistics' definitions (numpy only)
- ``checks``         pass / warn / fail thresholds and ``checks.cfg``
- ``images``         thumbnails painted with the window's display maths (``iris_gui.display``)
- ``html_page``, ``html_parts``      the HTML page
- ``pdf_document``, ``pdf_parts``    the PDF (reportlab)
- ``model``          the report as plain data
"""

from .build import (
    ReportCollector,
    ReportFiles,
    build_report,
    make_report,
    plan_report,
    write_report,
)
from .checks import CHECKS, Thresholds, load_checks
from .images import DisplaySettings

__all__ = ["CHECKS", "DisplaySettings", "ReportCollector", "ReportFiles", "Thresholds",
           "build_report",
           "load_checks", "make_report", "plan_report", "write_report"]
