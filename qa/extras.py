"""The optional parts of qa and the pip extras that install them (pyproject.toml).

The default install is what the demo serves from: SQLite, FAISS and ONNX Runtime. PostgreSQL
stores (`postgres`), Milvus vector indexes (`milvus`) and the openvino-bf16 runtime (`openvino`)
each need their extra; where one is missing, the error (or, for `auto`, the warning) says which.
"""

from __future__ import annotations


def install_hint(extra: str) -> str:
    """The end of a message about a missing optional package: "the postgres extra: pip install
    'qa[postgres]'"."""
    return f"the {extra} extra: pip install 'qa[{extra}]'"
