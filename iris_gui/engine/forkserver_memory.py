"""Imported first by the forkserver that the pool's workers (``--jobs``, the window's Run all) and
``--dask-local``'s are forked from (``product_pool.FORKSERVER_SETUP`` heads its preload list),
while the server has no thread yet: every worker forked from it then keeps the memory it frees for
its next product (``pages.keep_freed_memory``), in whichever of its threads the product runs
(``pages.one_heap_for_every_thread``; a Dask worker runs its tasks in a thread of their own).
Importing it anywhere else changes that process's memory the same way: do not.
"""

from __future__ import annotations

from .pages import keep_freed_memory, one_heap_for_every_thread

keep_freed_memory()
one_heap_for_every_thread()
