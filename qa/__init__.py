"""qa: offline question answering over news articles, answers grounded in cited sentences."""

__version__ = "0.1.0"
