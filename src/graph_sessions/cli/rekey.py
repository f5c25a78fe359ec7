"""``graph-sessions rekey``: re-seal everything a database holds under the newest
encryption key (``storage/rekey.py`` does the work), while servers keep running on it."""

from __future__ import annotations

import time
from typing import Annotated

import typer

from graph_sessions.cli.common import (
    BackendOpt,
    ConfigOpt,
    JsonOpt,
    command,
    console,
    err_console,
    open_manager,
    print_json,
    safe,
)
from graph_sessions.errors import ConfigError, InvalidInput
from graph_sessions.storage.rekey import DEFAULT_BATCH, KindCount, rekey


@command
async def rekey_command(
    batch: Annotated[
        int,
        typer.Option("--batch", min=1, max=100_000, help="Rows per transaction."),
    ] = DEFAULT_BATCH,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Count what would be re-sealed; change nothing.")
    ] = False,
    vacuum: Annotated[
        bool,
        typer.Option(
            "--vacuum",
            help="SQLite: then rewrite the file (VACUUM) so no old bytes stay in its free "
            "space; writers wait while it runs. Ignored on Postgres and Redis.",
        ),
    ] = False,
    backend: BackendOpt = None,
    config: ConfigOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Re-seal every stored value not under the newest encryption key (the first key of
    GRAPH_SESSIONS_ENCRYPTION_KEY / encryption_key), plaintext rows included, in batches
    of short transactions (Redis: compare-and-set writes); servers may keep running on the
    database. A value sealed with
    a key that is not configured stops it before anything is changed."""
    async with open_manager(backend, config) as manager:
        store = manager.backend
        ring = store.encryption
        if ring is None:
            raise ConfigError(
                "rekey needs the encryption keys: set GRAPH_SESSIONS_ENCRYPTION_KEY (or "
                "encryption_key in the config) to the new key first, then the old ones"
            )
        source = store.rekey_source()
        if source is None:
            raise InvalidInput(
                f"rekey is not available for this backend ({type(getattr(store, 'inner', store)).__name__})"
            )

        shown = {"at": 0.0}

        def progress(kind: str, count: KindCount) -> None:
            now = time.monotonic()
            if now - shown["at"] < 1.0:  # a line a second at most
                return
            shown["at"] = now
            err_console.print(
                f"[dim]{safe(kind)}: {count.resealed} re-sealed, {count.current} current…[/]",
                highlight=False,
            )

        report = await rekey(
            source,
            ring,
            indexable_metadata=getattr(store, "indexable_metadata", ()),
            batch=batch,
            dry_run=dry_run,
            compact=vacuum,
            progress=None if as_json else progress,
        )
    if as_json:
        print_json(
            {
                "key_id": report.key_id,
                "dry_run": report.dry_run,
                "kinds": {
                    k: {"resealed": c.resealed, "current": c.current}
                    for k, c in report.kinds.items()
                },
                "resealed": report.resealed,
                "current": report.current,
                "elapsed": round(report.elapsed, 3),
            }
        )
        return
    verb = "would re-seal" if dry_run else "re-sealed"
    for kind, count in report.kinds.items():
        console.print(
            f"{safe(kind)}: {verb} {count.resealed}, already current {count.current}",
            highlight=False,
        )
    console.print(
        f"{verb} {report.resealed} rows under key {safe(report.key_id)!s} "
        f"({report.current} already current) in {report.elapsed:.1f} s",
        highlight=False,
    )
