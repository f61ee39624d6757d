"""Ingest: article files and web pages read, cleaned, split into sentences and chunks, embedded."""
