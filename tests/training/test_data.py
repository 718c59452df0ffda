"""Training data: finding before/after pairs in a folder, and the random crops of each step."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from skimage import data

from clip_support import pan, write_clip
from lutcli.errors import DatasetError
from lutcli.models.base import FIXED_SIZE
from lutcli.training.data import (
    CropBatches,
    Pair,
    PictureSample,
    SampleList,
    SampleSet,
    find_pairs,
    plan_crops,
)


def write_rgb(path: Path, rgb: np.ndarray) -> Path:
    """Write an (H, W, 3) RGB array (uint8 or uint16) with OpenCV, which stores BGR."""
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), np.ascontiguousarray(rgb[..., ::-1]))
    return path


def whole(samples: SampleSet, index: int) -> PictureSample:
    """Pair ``index`` of ``samples`` at full size: the crop that is the whole picture."""
    return samples.crop(index, 0, 0, *samples.sizes[index])


def noise(height: int, width: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)


def make_folder(root: Path, inputs: list[str], targets: list[str]) -> Path:
    """A pairs folder with small images at input/NAME and target/NAME."""
    (root / "input").mkdir(parents=True, exist_ok=True)
    (root / "target").mkdir(parents=True, exist_ok=True)
    for side, names in (("input", inputs), ("target", targets)):
        for seed, name in enumerate(names):
            write_rgb(root / side / name, noise(8, 8, seed))
    return root


def dataset_error(folder: Path) -> str:
    with pytest.raises(DatasetError) as caught:
        find_pairs(folder)
    message = str(caught.value)
    assert "\n" not in message
    return message


# find_pairs ------------------------------------------------------------------------------------


def test_pairs_are_matched_by_name_across_file_types_and_sorted(tmp_path):
    folder = make_folder(
        tmp_path / "pairs",
        inputs=["b.jpg", "a.jpg", "c.tif"],
        targets=["c.png", "a.png", "b.webp", "unused.png"],
    )
    pairs = find_pairs(folder)
    assert [pair.name for pair in pairs] == ["a", "b", "c"]
    assert pairs[0] == Pair("a", folder / "input/a.jpg", folder / "target/a.png")
    assert pairs[1].target_path == folder / "target/b.webp"
    assert pairs[2].input_path == folder / "input/c.tif"


def test_files_that_are_not_images_are_ignored(tmp_path):
    folder = make_folder(tmp_path / "pairs", inputs=["a.png"], targets=["a.png"])
    (folder / "input/notes.txt").write_text("not a photo")
    (folder / "input/.hidden.png").write_bytes(b"")
    (folder / "target/README").write_text("")
    assert [pair.name for pair in find_pairs(folder)] == ["a"]


def test_a_missing_folder_is_named(tmp_path):
    message = dataset_error(tmp_path / "nowhere")
    assert "nowhere" in message


@pytest.mark.parametrize("present", ["input", "target"])
def test_a_folder_without_input_or_target_says_what_it_must_hold(tmp_path, present):
    folder = tmp_path / "pairs"
    write_rgb(folder / present / "a.png", noise(8, 8))
    message = dataset_error(folder)
    assert str(folder) in message
    assert "input/" in message and "target/" in message


def test_an_empty_input_folder_is_named(tmp_path):
    folder = make_folder(tmp_path / "pairs", inputs=[], targets=["a.png"])
    message = dataset_error(folder)
    assert "no images" in message
    assert str(folder / "input") in message


def test_an_input_without_target_is_named(tmp_path):
    folder = make_folder(
        tmp_path / "pairs", inputs=["a.png", "lonely.jpg", "z.png"], targets=["a.png", "z.jpg"]
    )
    message = dataset_error(folder)
    assert "lonely.jpg" in message
    assert str(folder / "target") in message
    assert "a.png" not in message and "z.png" not in message


def test_many_inputs_without_target_are_summed_up_on_one_line(tmp_path):
    names = [f"photo{i:02d}.png" for i in range(12)]
    folder = make_folder(tmp_path / "pairs", inputs=names, targets=[])
    message = dataset_error(folder)
    assert message.startswith("12 input image(s) have no target")
    assert "photo00.png" in message and "and 7 more" in message
    assert "photo11.png" not in message


@pytest.mark.parametrize("side", ["input", "target"])
def test_two_images_with_the_same_name_are_refused(tmp_path, side):
    folder = make_folder(tmp_path / "pairs", inputs=["a.png", "b.png"], targets=["a.png", "b.png"])
    write_rgb(folder / side / "a.jpg", noise(8, 8))
    message = dataset_error(folder)
    assert "a.jpg" in message and "a.png" in message
    assert str(folder / side) in message


# Random crops ----------------------------------------------------------------------------------


def coordinate_sample(height: int, width: int) -> PictureSample:
    """A sample whose pixels tell where they are: input (row, column, 0), target (0, row, col)."""
    rows = torch.arange(height, dtype=torch.float32).view(height, 1).expand(height, width)
    columns = torch.arange(width, dtype=torch.float32).view(1, width).expand(height, width)
    zeros = torch.zeros(height, width)
    return PictureSample(
        name=f"{height}x{width}",
        input=torch.stack([rows, columns, zeros]),
        target=torch.stack([zeros, rows, columns]),
        context=torch.full((3, FIXED_SIZE, FIXED_SIZE), float(height)),
    )


def crop_corner(crop: torch.Tensor) -> tuple[int, int]:
    return int(crop[0, 0, 0]), int(crop[1, 0, 0])


def test_crops_are_windows_of_the_pictures_with_matching_targets():
    samples = SampleList(
        [coordinate_sample(40, 50), coordinate_sample(30, 70), coordinate_sample(40, 50)]
    )
    for step in range(20):
        crops = plan_crops(samples.sizes, step, seed=0, batch_size=3, crop_size=16)
        assert len(crops) == 3
        for index, top, left, side in crops:
            assert side == 16
            picture = samples.samples[index]
            assert 0 <= top <= picture.input.shape[1] - 16
            assert 0 <= left <= picture.input.shape[2] - 16
            piece = samples.crop(index, top, left, side, side)
            assert crop_corner(piece.input) == (top, left)
            window = (slice(None), slice(top, top + 16), slice(left, left + 16))
            assert torch.equal(piece.input, picture.input[window])
            assert torch.equal(piece.target, picture.target[window])
            assert torch.equal(piece.context, picture.context)


def test_a_list_gives_colors_and_previews_like_the_cache():
    samples = SampleList([coordinate_sample(40, 50)])
    picture = samples.samples[0]
    inputs, targets = samples.colors(0, np.array([0, 51]))
    assert inputs[:, 1].tolist()[:2] == [1.0, 1.0]  # row 1, column 1
    torch.testing.assert_close(targets, picture.target.reshape(3, -1)[:, [0, 51]])
    preview = samples.preview(0, 25)
    assert preview.input.shape == preview.target.shape == (3, 20, 25)
    assert samples.preview(0, 100) is picture


def test_crops_reach_every_position_including_the_last():
    sizes = [(10, 12)]
    corners = {plan_crops(sizes, step, 0, 1, 8)[0][1:3] for step in range(300)}
    assert corners == {(top, left) for top in range(3) for left in range(5)}


def test_the_crops_of_a_step_depend_on_the_seed_and_the_step_alone():
    sizes = [(64, 64), (48, 80)]
    assert plan_crops(sizes, 5, 7, 4, 16) == plan_crops(sizes, 5, 7, 4, 16)
    assert plan_crops(sizes, 5, 7, 4, 16) != plan_crops(sizes, 5, 8, 4, 16)
    assert plan_crops(sizes, 5, 7, 4, 16) != plan_crops(sizes, 6, 7, 4, 16)


def test_pictures_smaller_than_the_crop_size_shrink_the_crops():
    sizes = [(40, 60), (25, 90), (100, 100)]
    for step in range(20):
        crops = plan_crops(sizes, step, 0, 6, 64)
        smallest = min(min(sizes[index]) for index, *_ in crops)
        assert {side for *_, side in crops} == {min(64, smallest)}


def test_processes_share_every_step_s_crops_between_them():
    sizes = [(64, 64), (48, 80), (70, 30)]
    whole = list(CropBatches(sizes, range(3, 9), 1, 4, 16))
    halves = [list(CropBatches(sizes, range(3, 9), 1, 4, 16, rank, 2)) for rank in (0, 1)]
    assert len(whole) == 6
    for step, batch in enumerate(whole):
        assert halves[0][step] + halves[1][step] == batch
        assert len(halves[0][step]) == len(halves[1][step]) == 2


def test_a_batch_that_does_not_split_over_the_processes_is_refused():
    with pytest.raises(DatasetError, match="--batch-size 3 does not split evenly over 2"):
        CropBatches([(8, 8)], range(4), 0, 3, 8, 0, 2)


# Clips as pairs ---------------------------------------------------------------------------------


def test_a_clip_and_its_graded_copy_give_pairs_of_the_same_frames(tmp_path):

    frames = pan(data.astronaut(), 20)
    write_clip(tmp_path / "input" / "shot.mkv", frames, "ffv1", "yuv444p", audio=False)
    graded = [np.clip(f.astype(int) + 20, 0, 255).astype(np.uint8) for f in frames]
    write_clip(tmp_path / "target" / "shot.mkv", graded, "ffv1", "yuv444p", audio=False)
    write_rgb(tmp_path / "input" / "still.png", noise(8, 8))
    write_rgb(tmp_path / "target" / "still.png", noise(8, 8, seed=1))
    pairs = find_pairs(tmp_path, frames=5, cache_root=tmp_path / "cache")
    assert [pair.name for pair in pairs] == [
        "shot at 0.00 s", "shot at 0.16 s", "shot at 0.32 s", "shot at 0.48 s", "shot at 0.64 s",
        "still",
    ]  # fmt: skip
    for pair in pairs[:5]:
        source = cv2.imread(str(pair.input_path)).astype(int)
        target = cv2.imread(str(pair.target_path)).astype(int)
        unclipped = source < 230
        assert np.abs(target - source - 20)[unclipped].mean() < 1.0  # the same frame, graded


def test_a_clip_needs_a_clip_of_as_many_frames_as_its_target(tmp_path):

    frames = pan(data.astronaut(), 10)
    write_clip(tmp_path / "input" / "shot.mp4", frames, audio=False)
    write_clip(tmp_path / "target" / "shot.mp4", frames[:8], audio=False)
    with pytest.raises(DatasetError, match="has 10 frames and its target 'shot.mp4' 8"):
        find_pairs(tmp_path, cache_root=tmp_path / "cache")
    (tmp_path / "target" / "shot.mp4").unlink()
    write_rgb(tmp_path / "target" / "shot.png", noise(8, 8))
    with pytest.raises(DatasetError, match="a clip's ground truth is a clip"):
        find_pairs(tmp_path, cache_root=tmp_path / "cache")
