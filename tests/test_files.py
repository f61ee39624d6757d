from pathlib import Path

import pytest

from qa.store.files import replaced_atomically


def test_a_file_is_replaced_whole_or_not_at_all(tmp_path: Path) -> None:
    target = tmp_path / "manifest.json"
    target.write_text("old", encoding="utf-8")
    with pytest.raises(RuntimeError), replaced_atomically(target) as temporary:
        temporary.write_text("half", encoding="utf-8")
        assert target.read_text(encoding="utf-8") == "old"
        raise RuntimeError("crashed while writing")
    assert target.read_text(encoding="utf-8") == "old"
    assert list(tmp_path.iterdir()) == [target]

    with replaced_atomically(target) as temporary:
        temporary.write_text("new", encoding="utf-8")
    assert target.read_text(encoding="utf-8") == "new"
    assert list(tmp_path.iterdir()) == [target]
