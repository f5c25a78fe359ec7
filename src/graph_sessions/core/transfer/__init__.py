"""Moving sessions between backends: ``graph-sessions export`` / ``import`` (the file's
lines: ``format.py``; reading a backend: ``export.py``; writing one: ``importer.py``) and
``graph-sessions backup`` of a SQLite file (``backup.py``)."""

from graph_sessions.core.transfer.export import (
    ExportFilters,
    ExportReport,
    count_sessions,
    export_backend,
    session_document,
)
from graph_sessions.core.transfer.importer import ImportReport, import_lines

__all__ = [
    "ExportFilters",
    "ExportReport",
    "ImportReport",
    "count_sessions",
    "export_backend",
    "import_lines",
    "session_document",
]
