"""One wording for a failed file action in the window (open, preview, parameters, export, ...).

Every slot that reads or writes a file catches *any* exception (an exception escaping a Qt slot
is a bug, and nothing global is installed to hide one) and turns it into one line in our own
words that names the file: the engine's InputError already does; an OSError says what the
system said (``Permission denied``, without ``[Errno 13]``); anything else is a bug, said as such,
with its traceback in the log. Qt-free, so the worker thread uses it too.
"""

from __future__ import annotations

import logging
import os

from ..engine.errors import InputError

log = logging.getLogger("iris_gui.gui")


def failure_message(exc: BaseException, action: str, path: str | os.PathLike | None = None) -> str:
    """``action`` ("open", "save parameters to", ...) of ``path`` failed with ``exc``: the line
    to show. The file is named even when the exception does not name it."""
    target = f" {path}" if path else ""
    if isinstance(exc, InputError):
        text = str(exc)
        if path and str(path) not in text and os.path.basename(str(path)) not in text:
            text = f"{path}: {text}"
        return text
    if isinstance(exc, OSError):
        where = exc.filename if exc.filename and not path else path
        reason = exc.strerror or str(exc) or "the system refused it"
        return f"cannot {action} {where}: {reason}" if where else f"cannot {action}: {reason}"
    log.error("%s%s failed unexpectedly; details for a bug report:", action, target, exc_info=exc)
    return f"cannot {action}{target}: unexpected internal error (a bug; the log has the details)"
