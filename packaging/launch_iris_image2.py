"""PyInstaller entry script of the bundled ``iris-image2`` (same as the ``iris-image2`` console script)."""

import multiprocessing

from iris_gui.cli import console_main

if __name__ == "__main__":
    multiprocessing.freeze_support()
    console_main()
