"""The PySide6 + pyqtgraph desktop window. Talks to the engine only through its public API."""
