"""PyInstaller entry script of the bundled ``iris-gui`` (same as the ``iris-gui`` console script)."""

import multiprocessing
import sys

from iris_gui.gui.app import main

if __name__ == "__main__":
    multiprocessing.freeze_support()
    sys.exit(main())
