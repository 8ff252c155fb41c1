"""iris_gui: workbench for the image2 stage of the IRIS / Liger imager pipeline."""

__version__ = "0.1.0"
