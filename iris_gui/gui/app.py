"""Entry point of ``iris-gui``."""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    print("iris-gui: the desktop window is not built yet; use iris-image2 for now "
          "(see README.md)", file=sys.stderr)
    return 1
