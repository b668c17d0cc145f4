"""Call state of the pipeline agent and where it is kept (memory, Redis, SQLite)."""
