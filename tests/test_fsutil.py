import os
from pathlib import Path

import pytest

from engine.fsutil import TMP_MARK, atomic_write, atomic_write_bytes, remove_stale_temps


def test_a_failed_write_leaves_the_old_file(tmp_path: Path):
    path = tmp_path / "f.bin"
    atomic_write_bytes(path, b"old")

    def half_write(f):
        f.write(b"new but")
        raise OSError(28, "No space left on device")

    with pytest.raises(OSError):
        atomic_write(path, half_write)
    assert path.read_bytes() == b"old"
    assert list(tmp_path.iterdir()) == [path]


def test_the_new_file_gets_a_normal_mode(tmp_path: Path):
    path = tmp_path / "f.bin"
    atomic_write_bytes(path, b"x")
    umask = os.umask(0)
    os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask


def test_stale_temps_are_removed(tmp_path: Path):
    (tmp_path / f"last.pt{TMP_MARK}123").write_bytes(b"partial")
    (tmp_path / "last.pt").write_bytes(b"whole")
    remove_stale_temps(tmp_path)
    assert [p.name for p in tmp_path.iterdir()] == ["last.pt"]
