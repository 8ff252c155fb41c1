"""The Qt-free image2 engine: models, references, associations, configs, steps and the runner."""
