import numpy as np
import pytest

from qa.embed import HashEmbedder, mean_of_rows


def test_mean_of_rows_is_the_unit_length_mean_of_each_range() -> None:
    vectors = HashEmbedder().encode_documents(
        ["the dam opened", "it cost billions", "power is on", "ships sailed again"]
    )
    pooled = mean_of_rows(vectors, [(0, 3), (2, 4), (3, 4)])
    for row, (start, end) in zip(pooled, [(0, 3), (2, 4), (3, 4)], strict=True):
        mean = vectors[start:end].mean(axis=0)
        assert np.allclose(row, mean / np.linalg.norm(mean), atol=1e-6)
    assert pooled.dtype == np.float32
    assert np.allclose(pooled[2], vectors[3])  # a one-sentence chunk is its sentence


@pytest.mark.parametrize("bad", [(1, 1), (2, 5), (-1, 2)])
def test_mean_of_rows_refuses_empty_or_outside_ranges(bad: tuple[int, int]) -> None:
    vectors = HashEmbedder().encode_documents(["a b", "c d", "e f", "g h"])
    with pytest.raises(ValueError, match="row ranges"):
        mean_of_rows(vectors, [(0, 2), bad])
