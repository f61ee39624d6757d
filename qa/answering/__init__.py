"""Answering a question: retrieve chunks, rank their sentences, read them, decide, cite."""
