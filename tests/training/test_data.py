"""Training data: finding before/after pairs in a folder, loading them, random crops."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from lutcli.errors import DatasetError
from lutcli.training.data import (
    CONTEXT_SIZE,
    Pair,
    PictureSample,
    find_pairs,
    load_pair,
    random_crops,
)


def write_rgb(path: Path, rgb: np.ndarray) -> Path:
    """Write an (H, W, 3) RGB array (uint8 or uint16) with OpenCV, which stores BGR."""
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), np.ascontiguousarray(rgb[..., ::-1]))
    return path


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


# load_pair -------------------------------------------------------------------------------------


def test_a_pair_loads_as_rgb_floats_with_a_fixed_size_context(tmp_path):
    source = noise(20, 30, seed=1)
    source[0, 0] = (255, 0, 0)  # red, which BGR order would turn blue
    target = noise(20, 30, seed=2)
    pair = Pair(
        "a",
        write_rgb(tmp_path / "a.png", source),
        write_rgb(tmp_path / "b.png", target),
    )
    warnings: list[str] = []
    sample = load_pair(pair, max_pixels=10_000, warn=warnings.append)
    assert warnings == []
    assert sample.name == "a"
    assert sample.input.shape == sample.target.shape == (3, 20, 30)
    assert sample.input.dtype == sample.target.dtype == torch.float32
    assert sample.input[:, 0, 0].tolist() == [1.0, 0.0, 0.0]
    torch.testing.assert_close(sample.input, torch.from_numpy(source).permute(2, 0, 1) / 255)
    torch.testing.assert_close(sample.target, torch.from_numpy(target).permute(2, 0, 1) / 255)
    assert sample.context.shape == (3, CONTEXT_SIZE, CONTEXT_SIZE)


def test_sixteen_bit_pairs_load_in_the_same_range(tmp_path):
    source = noise(10, 10).astype(np.uint16) * 257
    pair = Pair(
        "a", write_rgb(tmp_path / "a.png", source), write_rgb(tmp_path / "b.png", noise(10, 10))
    )
    sample = load_pair(pair, max_pixels=10_000, warn=lambda _: None)
    torch.testing.assert_close(sample.input, sample.target)


def test_a_target_of_another_size_is_resized_to_its_input_with_a_warning(tmp_path):
    # A flat-colored target: resizing keeps its color, so the pair still teaches the same look.
    target = np.full((40, 60, 3), (200, 100, 50), dtype=np.uint8)
    pair = Pair(
        "a",
        write_rgb(tmp_path / "input.png", noise(20, 30)),
        write_rgb(tmp_path / "target.png", target),
    )
    warnings: list[str] = []
    sample = load_pair(pair, max_pixels=10_000, warn=warnings.append)
    assert len(warnings) == 1
    assert "target.png" in warnings[0] and "60x40" in warnings[0] and "30x20" in warnings[0]
    assert sample.target.shape == sample.input.shape == (3, 20, 30)
    expected = torch.tensor([200, 100, 50]).view(3, 1, 1).expand(3, 20, 30) / 255
    torch.testing.assert_close(sample.target, expected)


def test_photos_over_the_pixel_budget_are_shrunk_keeping_their_shape(tmp_path):
    pair = Pair(
        "a",
        write_rgb(tmp_path / "a.png", noise(100, 80)),
        write_rgb(tmp_path / "b.png", noise(100, 80, seed=3)),
    )
    sample = load_pair(pair, max_pixels=2_000, warn=lambda _: None)  # 8000 pixels: half a side
    assert sample.input.shape == sample.target.shape == (3, 50, 40)
    assert sample.context.shape == (3, CONTEXT_SIZE, CONTEXT_SIZE)
    assert 0 <= sample.input.min() and sample.input.max() <= 1


def test_photos_within_the_pixel_budget_keep_their_size(tmp_path):
    pair = Pair(
        "a",
        write_rgb(tmp_path / "a.png", noise(100, 80)),
        write_rgb(tmp_path / "b.png", noise(100, 80)),
    )
    assert load_pair(pair, max_pixels=8_000, warn=lambda _: None).input.shape == (3, 100, 80)


def test_the_context_is_the_whole_picture_shrunk(tmp_path):
    # Left half black, right half white: the context shows the same halves.
    source = np.zeros((64, 512, 3), dtype=np.uint8)
    source[:, 256:] = 255
    pair = Pair("a", write_rgb(tmp_path / "a.png", source), write_rgb(tmp_path / "b.png", source))
    context = load_pair(pair, max_pixels=10**6, warn=lambda _: None).context
    assert context[:, :, :120].max() < 0.01
    assert context[:, :, 136:].min() > 0.99


# random_crops ----------------------------------------------------------------------------------


def coordinate_sample(height: int, width: int) -> PictureSample:
    """A sample whose pixels tell where they are: input (row, column, 0), target (0, row, col)."""
    rows = torch.arange(height, dtype=torch.float32).view(height, 1).expand(height, width)
    columns = torch.arange(width, dtype=torch.float32).view(1, width).expand(height, width)
    zeros = torch.zeros(height, width)
    return PictureSample(
        name=f"{height}x{width}",
        input=torch.stack([rows, columns, zeros]),
        target=torch.stack([zeros, rows, columns]),
        context=torch.full((3, CONTEXT_SIZE, CONTEXT_SIZE), float(height)),
    )


def crop_corner(crop: torch.Tensor) -> tuple[int, int]:
    return int(crop[0, 0, 0]), int(crop[1, 0, 0])


def test_crops_are_windows_of_the_pictures_with_matching_targets(generator):
    samples = [coordinate_sample(40, 50), coordinate_sample(30, 70), coordinate_sample(40, 50)]
    for _ in range(20):
        inputs, targets, contexts = random_crops(samples, 16, generator)
        assert inputs.shape == targets.shape == (3, 3, 16, 16)
        assert contexts.shape == (3, 3, CONTEXT_SIZE, CONTEXT_SIZE)
        for sample, crop, target, context in zip(samples, inputs, targets, contexts, strict=True):
            top, left = crop_corner(crop)
            assert 0 <= top <= sample.input.shape[1] - 16
            assert 0 <= left <= sample.input.shape[2] - 16
            window = (slice(None), slice(top, top + 16), slice(left, left + 16))
            assert torch.equal(crop, sample.input[window])
            assert torch.equal(target, sample.target[window])
            assert torch.equal(context, sample.context)


def test_crops_reach_every_position_including_the_last(generator):
    sample = coordinate_sample(10, 12)
    corners = {crop_corner(random_crops([sample], 8, generator)[0][0]) for _ in range(300)}
    assert corners == {(top, left) for top in range(3) for left in range(5)}


def test_crops_are_the_same_for_the_same_seed():
    samples = [coordinate_sample(64, 64), coordinate_sample(48, 80)]
    first = random_crops(samples, 16, torch.Generator().manual_seed(7))
    again = random_crops(samples, 16, torch.Generator().manual_seed(7))
    other = random_crops(samples, 16, torch.Generator().manual_seed(8))
    assert all(torch.equal(a, b) for a, b in zip(first, again, strict=True))
    assert not torch.equal(first[0], other[0])


def test_pictures_smaller_than_the_crop_size_shrink_the_crops(generator):
    samples = [coordinate_sample(40, 60), coordinate_sample(25, 90), coordinate_sample(100, 100)]
    inputs, targets, _ = random_crops(samples, 64, generator)
    assert inputs.shape == targets.shape == (3, 3, 25, 25)
    # The picture that is only 25 high is cropped along its width alone.
    assert crop_corner(inputs[1])[0] == 0
