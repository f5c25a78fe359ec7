"""Shared helpers of the test suite, imported as ``support.<module>``.

``tests/`` is on ``sys.path`` through ``pythonpath`` in pyproject.toml's pytest section, and
:func:`support.paths.subprocess_env` puts it on ``PYTHONPATH`` for the child processes that
load these modules (the server's test graphs, the crash worker).

- ``paths``: ROOT, TESTS, EXAMPLES and the environment of a child process.
- ``graphs``, ``flow_graphs``, ``lifecycle_graphs``, ``chat_graphs``, ``server_graphs``,
  ``delta_graphs``, ``saver_graphs``: the graphs the tests run.
- ``flow``: helpers of the Python-API flow tests (``tests/flow/``).
- ``server``: the real server as a subprocess, SSE parsing.
- ``crash``, ``crash_worker``: a child process to SIGKILL and its parent-side handle.
- ``db_tables``, ``readonly``, ``yaml_files``, ``contract``, ``checkpoint_values``: small helpers.
"""
