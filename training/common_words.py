"""Write qa/models/common-words.txt: the English words common enough that an archive lacking one
says nothing about the question (qa.answering.grounding: a missing common word is a paraphrase, a
missing rare one a thing the archive does not hold).

    pip install wordfreq==3.1.1
    python -m training.common_words [--min-zipf 4.0]

The words are wordfreq's English list (Robyn Speer et al.; data CC BY-SA 4.0, from Wikipedia,
subtitles, news, books, web text and more) with a Zipf frequency of at least --min-zipf, that is
seen at least 10^(min-zipf) times in a billion words: about 7,200 words at 4.0.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from wordfreq import top_n_list, zipf_frequency

OUTPUT = Path(__file__).resolve().parent.parent / "qa" / "models" / "common-words.txt"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--min-zipf", type=float, default=4.0)
    args = parser.parse_args()
    words = sorted(
        {
            word
            for word in top_n_list("en", 50_000)
            if word.isalpha() and word.isascii() and zipf_frequency(word, "en") >= args.min_zipf
        }
    )
    header = (
        f"# English words with a Zipf frequency of at least {args.min_zipf}, from wordfreq 3.1.1"
        " (CC BY-SA 4.0); written by training/common_words.py\n"
    )
    OUTPUT.write_text(header + "\n".join(words) + "\n", encoding="utf-8")
    print(f"wrote {len(words)} words to {OUTPUT}")


if __name__ == "__main__":
    main()
