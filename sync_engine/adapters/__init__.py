"""Adapters: the real parts (PostgreSQL, Qdrant, embeddings, git, watcher, filesystem)."""
