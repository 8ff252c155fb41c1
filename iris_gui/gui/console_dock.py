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
        self.kernel_client = self.kernel_manager.client()
        self.kernel_client.start_channels()
        self.widget = RichJupyterWidget(self)
        self.widget.kernel_manager = self.kernel_manager
        self.widget.kernel_client = self.kernel_client
        self.widget.banner = (
            "iris_gui console. Names: session (inputs, config, results), pipeline, window, "
            "np, fits.\nExample: session.results['flat_field'].data.mean()\n"
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
