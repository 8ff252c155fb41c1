"""What a ``--dask-local`` worker does as it starts (a Dask preload module: Dask imports it in
each worker of the run's LocalCluster and calls ``dask_setup``).

Each worker runs product after product, as the ``--jobs`` pool's workers do, and is set up as they
are (``engine/pages.py``): fresh memory without numpy's huge-page advice, and the memory a product
frees kept for the next one instead of handed back to the system. Forked from the forkserver
(POSIX), a worker has that from the server already (``forkserver_memory``), also for the thread
Dask runs its tasks in; spawned (a frozen bundle), only its main heap keeps what it frees. Not for
the workers of a ``--scheduler`` cluster: those are the cluster's own, and Dask's memory limits
there expect each worker's resident size to fall after a task.
"""

from __future__ import annotations

from .pages import keep_freed_memory, use_small_pages


def dask_setup(worker) -> None:  # noqa: ARG001 - Dask's preload interface
    use_small_pages()
    keep_freed_memory()
