"""Evaluation: SQuAD-format files indexed and asked, answers scored (`qa eval`)."""
