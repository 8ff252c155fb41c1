"""Every public name of ``stretch``, ``frames``, ``dq_flags``, ``regions`` and ``readout`` in one
namespace, for code that reads better as ``im.quantize`` / ``im.Region`` (``from iris_gui.display
import maths as im``). New code may import from the modules themselves."""

from __future__ import annotations

from . import dq_flags, frames, readout, regions, stretch
from .dq_flags import *  # noqa: F403
from .frames import *  # noqa: F403
from .readout import *  # noqa: F403
from .regions import *  # noqa: F403
from .stretch import *  # noqa: F403

__all__ = [*stretch.__all__, *frames.__all__, *dq_flags.__all__, *regions.__all__,
           *readout.__all__]
