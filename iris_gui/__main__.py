"""``python -m iris_gui`` starts the desktop window (same as ``iris-gui``)."""

import sys

from iris_gui.gui.app import main

sys.exit(main())
