"""PostgreSQL adapters: the embedded server lifecycle (``embedded``) and the store built on it."""
