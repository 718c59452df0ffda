"""Ground truth: the teacher's outputs cached on disk, and the identity Hald probe."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import lutcli.distillation.ground_truth as ground_truth_module
from lutcli.distillation.ground_truth import (
    PROBE_LEVEL,
    GroundTruth,
    hald_identity,
)
from lutcli.distillation.teachers import Teacher, TeacherError, parse_teacher
from lutcli.errors import ImageReadError
from lutcli.fileutil import default_cache_root
from lutcli.io.images import read_image
from teacher_support import INVERT, noise, script_teacher, write_look_cube, write_picture


class CountingTeacher(Teacher):
    """Inverts pictures in-process (or gives ``shape`` pixels), counting its runs."""

    kind = "test"

    def __init__(self, name: str = "invert", shape: tuple[int, int] | None = None) -> None:
        super().__init__(name, name)
        self.shape = shape
        self.runs: list[Path] = []

    def teach(self, source: Path) -> np.ndarray:
        self.runs.append(source)
        pixels = 255 - read_image(source).pixels
        return pixels if self.shape is None else np.resize(pixels, (*self.shape, 3))


@pytest.fixture
def picture(tmp_path: Path) -> Path:
    return write_picture(tmp_path / "photos" / "a.png", noise(16, 24))


def cached_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file())


# The identity Hald image ------------------------------------------------------------------------


def test_a_level_2_hald_image_holds_64_colors_red_fastest():
    hald = hald_identity(2)
    assert hald.shape == (8, 8, 3) and hald.dtype == np.uint8
    colors = {tuple(color) for color in hald.reshape(-1, 3)}
    assert len(colors) == 64
    for channel in range(3):
        assert sorted(set(hald[..., channel].ravel())) == [0, 85, 170, 255]
    assert hald[0, :5].tolist() == [[0, 0, 0], [85, 0, 0], [170, 0, 0], [255, 0, 0], [0, 85, 0]]
    assert hald[1, 0].tolist() == [0, 170, 0]  # green steps every 4 pixels, 8 to a row
    assert hald[2, 0].tolist() == [0, 0, 85]  # blue every 16: two rows
    assert hald[-1, -1].tolist() == [255, 255, 255]


def test_the_probe_holds_every_color_of_a_64_step_lattice_once():
    hald = hald_identity(PROBE_LEVEL)
    assert hald.shape == (512, 512, 3)
    packed = hald.astype(np.int64) @ np.array([1, 256, 65536])
    assert len(np.unique(packed)) == 64**3 == hald.shape[0] * hald.shape[1]
    assert set(np.unique(hald)) >= {0, 255}


def test_the_probe_is_written_once_and_reused(tmp_path, monkeypatch):
    writes = []
    real_write = ground_truth_module.write_pixels
    monkeypatch.setattr(
        ground_truth_module, "write_pixels", lambda *a, **k: writes.append(a[0]) or real_write(*a)
    )
    cache = GroundTruth(CountingTeacher(), tmp_path / "cache")
    path = cache.probe()
    assert path.parent == tmp_path / "cache" and path.suffix == ".png"
    np.testing.assert_array_equal(read_image(path).pixels, hald_identity(PROBE_LEVEL))
    # Another teacher's cache under the same root shares it.
    assert GroundTruth(CountingTeacher("other"), tmp_path / "cache").probe() == path
    assert cache.probe() == path
    assert writes == [path]


# Caching the teacher's outputs ------------------------------------------------------------------


def test_the_second_request_comes_from_the_cache_without_running_the_teacher(tmp_path, picture):
    teacher = CountingTeacher()
    target, cached = GroundTruth(teacher, tmp_path / "cache").target_for(picture)
    assert not cached and target.is_file() and target.is_relative_to(tmp_path / "cache")
    np.testing.assert_array_equal(read_image(target).pixels, 255 - read_image(picture).pixels)
    # A new GroundTruth over the same folder: as a second run of lutcli would make.
    again, cached = GroundTruth(teacher, tmp_path / "cache").target_for(picture)
    assert (again, cached) == (target, True)
    assert teacher.runs == [picture]


def test_a_command_teacher_runs_once_per_picture(tmp_path, picture):
    script = script_teacher(tmp_path / "invert", INVERT)
    cache = GroundTruth(parse_teacher(script.spec), tmp_path / "cache")
    first = cache.target_for(picture)
    assert cache.target_for(picture) == (first[0], True)
    assert script.calls == [str(picture)]


def test_a_changed_picture_gets_fresh_ground_truth(tmp_path, picture):
    teacher = CountingTeacher()
    cache = GroundTruth(teacher, tmp_path / "cache")
    before, _ = cache.target_for(picture)
    write_picture(picture, noise(16, 24, seed=1))
    after, cached = cache.target_for(picture)
    assert after != before and not cached
    np.testing.assert_array_equal(read_image(after).pixels, 255 - read_image(picture).pixels)
    assert teacher.runs == [picture, picture]


def test_a_copy_of_a_picture_elsewhere_reuses_its_ground_truth(tmp_path, picture):
    teacher = CountingTeacher()
    cache = GroundTruth(teacher, tmp_path / "cache")
    target, _ = cache.target_for(picture)
    copy = tmp_path / "elsewhere" / "renamed.png"
    copy.parent.mkdir()
    copy.write_bytes(picture.read_bytes())
    assert cache.target_for(copy) == (target, True)
    assert len(teacher.runs) == 1


def test_another_teacher_gets_its_own_folder(tmp_path, picture):
    invert, other = CountingTeacher("invert"), CountingTeacher("other")
    first = GroundTruth(invert, tmp_path / "cache")
    second = GroundTruth(other, tmp_path / "cache")
    assert first.folder != second.folder
    target, _ = first.target_for(picture)
    other_target, cached = second.target_for(picture)
    assert not cached and other_target.parent == second.folder != target.parent
    assert other.runs == [picture]


def test_a_changed_cube_file_is_a_new_teacher(tmp_path, picture):
    cube = tmp_path / "look.cube"
    write_look_cube(cube, gammas=(0.8, 1.2, 2.0))
    before, _ = GroundTruth(parse_teacher(str(cube)), tmp_path / "cache").target_for(picture)
    write_look_cube(cube, gammas=(1.5, 1.2, 2.0))
    after, cached = GroundTruth(parse_teacher(str(cube)), tmp_path / "cache").target_for(picture)
    assert not cached and after.parent != before.parent
    assert not np.array_equal(read_image(after).pixels, read_image(before).pixels)


def test_a_float_teacher_s_16_bit_output_is_cached_exactly(tmp_path, picture):
    cube = tmp_path / "look.cube"
    write_look_cube(cube)
    teacher = parse_teacher(str(cube))
    target, _ = GroundTruth(teacher, tmp_path / "cache").target_for(picture)
    cached = read_image(target).pixels
    assert cached.dtype == np.uint16
    np.testing.assert_array_equal(cached, teacher.teach(picture))


def test_an_output_of_another_size_names_both_and_is_not_cached(tmp_path, picture):
    teacher = CountingTeacher(shape=(14, 23))
    cache = GroundTruth(teacher, tmp_path / "cache")
    with pytest.raises(TeacherError) as caught:
        cache.target_for(picture)
    message = str(caught.value)
    assert str(picture) in message and "23x14" in message and "24x16" in message
    assert cached_files(tmp_path / "cache") == []
    with pytest.raises(TeacherError):  # a failure is not remembered: the teacher runs again
        cache.target_for(picture)
    assert len(teacher.runs) == 2


def test_a_picture_that_cannot_be_read_is_an_image_error_before_the_teacher_runs(tmp_path):
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\n not really")
    teacher = CountingTeacher()
    with pytest.raises(ImageReadError, match="broken.png"):
        GroundTruth(teacher, tmp_path / "cache").target_for(broken)
    assert teacher.runs == []


# Where the cache lives --------------------------------------------------------------------------


@pytest.fixture
def home(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("LUTCLI_CACHE", raising=False)
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    return tmp_path / "home"


def test_the_cache_defaults_to_the_home_cache_folder(home):
    assert default_cache_root() == home / ".cache" / "lutcli"


def test_xdg_cache_home_moves_the_cache(home, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert default_cache_root() == tmp_path / "xdg" / "lutcli"


def test_lutcli_cache_wins_over_xdg_cache_home(home, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv("LUTCLI_CACHE", str(tmp_path / "mine"))
    assert default_cache_root() == tmp_path / "mine"


def test_empty_variables_are_ignored(home, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", "")
    monkeypatch.setenv("LUTCLI_CACHE", "")
    assert default_cache_root() == home / ".cache" / "lutcli"


def test_ground_truth_goes_to_the_default_cache_unless_told(home, tmp_path, picture, monkeypatch):
    monkeypatch.setenv("LUTCLI_CACHE", str(tmp_path / "env-cache"))
    target, _ = GroundTruth(CountingTeacher()).target_for(picture)
    assert target.is_relative_to(tmp_path / "env-cache" / "teachers")
    assert not (home / ".cache").exists()
