"""Storage: articles and chunks in SQLite or PostgreSQL, keyword search, the vector index."""
