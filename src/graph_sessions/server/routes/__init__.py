"""The HTTP routes, one module per group: sessions (CRUD, search, state, history, logs),
runs (invoke, stream, resume) and ops (health, readiness, metrics, stats, sweep)."""
