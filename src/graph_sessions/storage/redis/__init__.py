"""The Redis backend (plain Redis >= 7, no modules)."""
