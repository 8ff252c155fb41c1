"""An IPython console on the session, in-process (no network ports), made on first open."""

from __future__ import annotations

from typing import Any

from PySide6.QtWidgets import QVBoxLayout, QWidget


class ConsolePanel(QWidget):
    """Holds a qtconsole RichJupyterWidget bound to an in-process kernel."""

    def __init__(self, namespace: dict[str, Any], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        from qtconsole.inprocess import QtInProcessKernelManager
        from qtconsole.rich_jupyter_widget import RichJupyterWidget

        self.kernel_manager = QtInProcessKernelManager()
        self.kernel_manager.start_kernel(show_banner=False)
        self.kernel = self.kernel_manager.kernel
        self.kernel.gui = "qt"
        # The in-process kernel runs on the GUI thread: jedi's first completion (parsing the numpy,
        # astropy and PySide6 stubs) froze the window for minutes. IPython's own completer answers
        # from the live objects in milliseconds.
        self.kernel.shell.Completer.use_jedi = False
        self.kernel_client = self.kernel_manager.client()
        self.kernel_client.start_channels()
        self.widget = RichJupyterWidget(self)
        self.widget.kernel_manager = self.kernel_manager
        self.widget.kernel_client = self.kernel_client
        self.widget.banner = (
            "iris_gui console. Names: session (associations, current_product, results, config), "
            "pipeline, config, window, np, fits, STEPS.\n"
            "Example: np.nanmean(session.results['flat_field'].data)  (frames hold NaN)\n"
        )
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.widget)
        self.push(namespace)

    def push(self, namespace: dict[str, Any]) -> None:
        self.kernel.shell.push(namespace)

    def run(self, code: str) -> Any:
        """Run ``code`` in the console's namespace (shown in the console) and return its value."""
        self.widget.execute(code)
        return self.kernel.shell.user_ns.get("_")

    def evaluate(self, expression: str) -> Any:
        """Evaluate without echoing (for scripts and tests)."""
        return self.kernel.shell.ev(expression)

    def shutdown(self) -> None:
        try:
            self.kernel_client.stop_channels()
            self.kernel_manager.shutdown_kernel()
        except Exception:  # the in-process kernel may already be gone at exit
            pass
