"""lutcli.processing: which file goes where (plan_jobs) and processing them (process_jobs)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
import tifffile

from lutcli import processing
from lutcli.errors import LutcliError
from lutcli.io.images import read_image
from lutcli.io.pixels import resize_pixels
from lutcli.looks import Look, picture_context
from lutcli.lut.lattice import identity_lut
from lutcli.lut.luts import Lut3D
from lutcli.models.base import FIXED_SIZE
from lutcli.processing import (
    Job,
    Plan,
    Summary,
    plan_jobs,
    process_image,
    process_jobs,
)
from photo_support import smooth_photo


class Inverter(Look):
    """A look that inverts every color (a 2-point LUT, exact); others hook into its apply."""

    def lut_for(self, context=None, size=None) -> Lut3D:
        return Lut3D((1 - identity_lut(2)).numpy())


invert = Inverter()


def pixels(seed: int = 0, dtype=np.uint8, shape=(6, 8, 3)) -> np.ndarray:
    top = np.iinfo(dtype).max
    return np.random.default_rng(seed).integers(0, top, shape, endpoint=True).astype(dtype)


def image(path: Path, seed: int = 0, dtype=np.uint8, channels: int = 3) -> Path:
    """Write a small random picture with OpenCV (BGR or BGRA order, as OpenCV wants)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), pixels(seed, dtype, (6, 8, channels)))
    return path


def pairs(jobs: list[Job], root: Path) -> list[tuple[str, str]]:
    """Jobs as (source, destination) relative to ``root``, for readable comparisons."""
    return [
        (job.source.relative_to(root).as_posix(), job.destination.relative_to(root).as_posix())
        for job in jobs
    ]


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """in/a.png, in/b.JPG, in/notes.txt, in/.hidden.png, in/sub/c.tif, in/sub/deep/d.webp."""
    folder = tmp_path / "in"
    image(folder / "a.png")
    image(folder / "b.JPG")
    (folder / "notes.txt").write_text("not an image")
    image(folder / ".hidden.png")
    image(folder / "sub" / "c.tif")
    image(folder / "sub" / "deep" / "d.webp")
    return folder


# plan_jobs --------------------------------------------------------------------------------------


def test_a_folder_maps_its_images_to_the_same_names(tmp_path, tree):
    jobs = plan_jobs(tree, tmp_path / "out", recursive=False).jobs
    assert pairs(jobs, tmp_path) == [("in/a.png", "out/a.png"), ("in/b.JPG", "out/b.JPG")]


def test_recursive_mirrors_subfolders(tmp_path, tree):
    jobs = plan_jobs(str(tree), str(tmp_path / "out"), recursive=True).jobs  # str paths too
    assert pairs(jobs, tmp_path) == [
        ("in/a.png", "out/a.png"),
        ("in/b.JPG", "out/b.JPG"),
        ("in/sub/c.tif", "out/sub/c.tif"),
        ("in/sub/deep/d.webp", "out/sub/deep/d.webp"),
    ]


def test_a_destination_inside_the_source_is_left_out(tmp_path, tree):
    image(tree / "out" / "a.png")  # outputs of an earlier run
    image(tree / "out" / "sub" / "c.tif")
    jobs = plan_jobs(tree, tree / "out", recursive=True).jobs
    assert pairs(jobs, tree) == [
        ("a.png", "out/a.png"),
        ("b.JPG", "out/b.JPG"),
        ("sub/c.tif", "out/sub/c.tif"),
        ("sub/deep/d.webp", "out/sub/deep/d.webp"),
    ]


def test_a_destination_in_a_subfolder_leaves_only_that_subfolder_out(tmp_path, tree):
    jobs = plan_jobs(tree, tree / "sub" / "deep", recursive=True).jobs
    assert pairs(jobs, tree) == [
        ("a.png", "sub/deep/a.png"),
        ("b.JPG", "sub/deep/b.JPG"),
        ("sub/c.tif", "sub/deep/sub/c.tif"),
    ]


def test_a_destination_above_the_source_takes_every_image(tmp_path):
    source = tmp_path / "photos" / "raw"
    image(source / "x.png")
    image(source / "y.png")
    jobs = plan_jobs(source, tmp_path / "photos", recursive=True).jobs
    assert pairs(jobs, tmp_path) == [
        ("photos/raw/x.png", "photos/x.png"),
        ("photos/raw/y.png", "photos/y.png"),
    ]


def test_an_output_onto_another_input_is_refused(tmp_path):
    source = tmp_path / "photos" / "raw"
    image(source / "x.png")
    image(source / "raw" / "x.png")  # would go to photos/raw/x.png, an input
    with pytest.raises(LutcliError, match="would overwrite the input"):
        plan_jobs(source, tmp_path / "photos", recursive=True)
    # Without recursion photos/raw/raw is not read: nothing collides.
    assert len(plan_jobs(source, tmp_path / "photos", recursive=False).jobs) == 1


def test_a_file_goes_to_a_file_or_into_a_folder(tmp_path, tree):
    source = tree / "a.png"
    assert plan_jobs(source, tmp_path / "x.jpg", False).jobs == [Job(source, tmp_path / "x.jpg")]
    assert plan_jobs(source, tmp_path, True).jobs == [Job(source, tmp_path / "a.png")]
    new = tmp_path / "new" / "x.tif"  # a file in a folder that does not exist yet
    assert plan_jobs(source, new, False) == Plan([Job(source, new)], [])


@pytest.mark.parametrize(
    ("source", "destination", "message"),
    [
        ("nope", "out", "no such file or folder"),
        ("in/notes.txt", "out.png", "not an image"),
        ("in/a.png", "out.gif", "unknown image type"),
        ("in/a.png", "out", "unknown image type"),
        ("in/a.png", "in/a.png", "its own output"),
        ("in/a.png", "in", "its own output"),
        ("in", "in", "input folder"),
        ("in", "in/sub/..", "input folder"),
        ("in", "in/a.png", "is a file"),
        ("in/sub/empty", "out", "no images"),
    ],
)
def test_plan_errors(tmp_path, tree, source, destination, message):
    image(tree / "sub" / "empty" / "nested" / "e.png")  # only found by a recursive walk
    with pytest.raises(LutcliError, match=message):
        plan_jobs(tmp_path / source, tmp_path / destination, recursive=False)


def test_no_images_says_where_it_looked(tmp_path):
    (tmp_path / "empty" / "sub").mkdir(parents=True)
    with pytest.raises(LutcliError, match="or its subfolders"):
        plan_jobs(tmp_path / "empty", tmp_path / "out", recursive=True)


def test_the_same_folder_through_a_symlink_is_refused(tmp_path, tree):
    link = tmp_path / "link"
    link.symlink_to(tree, target_is_directory=True)
    with pytest.raises(LutcliError, match="input folder"):
        plan_jobs(tree, link, recursive=True)


def test_files_lutcli_does_not_read_are_named(tmp_path, tree):
    """QA: .gif, .heic, .dng and broken links were left out without a word."""
    for name in ("anim.gif", "phone.heic", "raw.DNG", "sub/scan.dng"):
        (tree / name).write_bytes(b"something")
    (tree / "gone.png").symlink_to(tmp_path / "nowhere.png")
    (tree / "loop.jpg").symlink_to(tree / "loop.jpg")
    (tree / ".git").mkdir()
    (tree / ".git" / "HEAD").write_text("hidden things are not listed")
    plan = plan_jobs(tree, tmp_path / "out", recursive=False)
    assert [job.source.name for job in plan.jobs] == ["a.png", "b.JPG"]
    assert [path.name for path in plan.left_out] == [
        "anim.gif", "gone.png", "loop.jpg", "notes.txt", "phone.heic", "raw.DNG",
    ]  # fmt: skip
    recursive = plan_jobs(tree, tmp_path / "out", recursive=True)
    assert tree / "sub" / "scan.dng" in recursive.left_out
    assert tree / ".git" / "HEAD" not in recursive.left_out


def test_what_is_left_out_of_the_output_folder_inside_the_input_is_not_listed(tmp_path, tree):
    (tree / "out").mkdir()
    (tree / "out" / "log.txt").write_text("an earlier run's")
    plan = plan_jobs(tree, tree / "out", recursive=True)
    assert tree / "out" / "log.txt" not in plan.left_out and tree / "notes.txt" in plan.left_out


# process_jobs -----------------------------------------------------------------------------------


def test_process_jobs_writes_the_look(tmp_path):
    source = image(tmp_path / "a.png", seed=1)
    destination = tmp_path / "out" / "deeper" / "a.png"
    summary = process_jobs(invert, [Job(source, destination)])
    assert summary == Summary(written=1, skipped=0, failed=[])
    np.testing.assert_array_equal(read_image(destination).pixels, 255 - read_image(source).pixels)


@pytest.mark.parametrize("parallel_jobs", [1, 2])
def test_photos_decoded_into_the_last_ones_pixels_come_out_as_alone(tmp_path, parallel_jobs):
    # Each thread decodes its next color JPEG of the same size into its last one's pixels: the
    # outputs are those of each photo processed on its own, whatever size comes in between.
    sizes = [(40, 56), (40, 56), (24, 32), (40, 56), (40, 56), (40, 56)]
    jobs = []
    for n, (height, width) in enumerate(sizes):
        source = tmp_path / f"{n}.jpg"
        assert cv2.imwrite(str(source), pixels(n, shape=(height, width, 3)))
        jobs.append(Job(source, tmp_path / "out" / f"{n}.png"))
    summary = process_jobs(invert, jobs, parallel_jobs=parallel_jobs)
    assert summary.written == len(jobs)
    for job in jobs:
        alone = tmp_path / "alone.png"
        process_image(invert, Job(job.source, alone))
        np.testing.assert_array_equal(read_image(job.destination).pixels, read_image(alone).pixels)


def test_decode_buffers_hand_each_thread_its_own_last_pixels():
    buffers = processing.DecodeBuffers()
    assert buffers.take() is None
    mine = pixels(1)
    buffers.keep(mine)
    others: list = []
    thread = threading.Thread(target=lambda: others.append(buffers.take()))
    thread.start()
    thread.join()
    assert others == [None]
    assert buffers.take() is mine and buffers.take() is None


def test_process_jobs_keeps_16_bits_and_alpha(tmp_path):
    source = image(tmp_path / "a.png", seed=1, dtype=np.uint16, channels=4)
    destination = tmp_path / "b.png"
    process_jobs(invert, [Job(source, destination)])
    before, after = read_image(source), read_image(destination)
    assert after.pixels.dtype == np.uint16
    np.testing.assert_array_equal(after.pixels, 65535 - before.pixels)
    np.testing.assert_array_equal(after.alpha, before.alpha)


def test_existing_outputs_are_skipped_unless_overwrite(tmp_path):
    jobs = [
        Job(image(tmp_path / f"{n}.png", seed=n), tmp_path / "out" / f"{n}.png") for n in (1, 2)
    ]
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "1.png").write_bytes(b"kept")
    seen = []
    summary = process_jobs(invert, jobs, on_done=lambda *args: seen.append(args))
    assert summary == Summary(written=1, skipped=1, failed=[])
    assert (tmp_path / "out" / "1.png").read_bytes() == b"kept"
    assert seen == [(jobs[0], "skipped", ""), (jobs[1], "written", "")]
    summary = process_jobs(invert, jobs, overwrite=True)
    assert summary == Summary(written=2, skipped=0, failed=[])
    assert read_image(tmp_path / "out" / "1.png").pixels.shape == (6, 8, 3)


def test_a_bad_file_is_recorded_and_the_rest_go_on(tmp_path):
    good = image(tmp_path / "a.png")
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"\xff\xd8\xff not really a jpeg")
    (tmp_path / "blocker").write_text("a file where a folder should be")
    jobs = [
        Job(bad, tmp_path / "out" / "bad.jpg"),
        Job(good, tmp_path / "blocker" / "a.png"),  # cannot make the output folder
        Job(good, tmp_path / "out" / "a.png"),
    ]
    seen = []
    summary = process_jobs(invert, jobs, on_done=lambda job, outcome, msg: seen.append(outcome))
    assert summary.written == 1 and summary.skipped == 0
    assert [path for path, _ in summary.failed] == [bad, good]
    assert "bad.jpg" in summary.failed[0][1]
    assert seen == ["failed", "failed", "written"]
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["a.png"]


def test_jpeg_quality_is_passed_on(tmp_path):
    source = image(tmp_path / "a.png")
    jobs = [Job(source, tmp_path / f"q{q}.jpg") for q in (10, 100)]
    process_jobs(invert, jobs[:1], jpeg_quality=10)
    process_jobs(invert, jobs[1:], jpeg_quality=100)
    assert (tmp_path / "q10.jpg").stat().st_size < (tmp_path / "q100.jpg").stat().st_size


class Spy(Inverter):
    """An adaptive look that inverts, remembering the shapes it was given (pixels, context)."""

    adaptive = True

    def __init__(self) -> None:
        self.calls: list[tuple[tuple[int, ...], tuple[int, ...] | None]] = []

    def picture_context(self, picture, channel_order="RGB"):
        return picture_context(picture, channel_order)

    def apply(self, image, context=None, **options):
        self.calls.append((tuple(image.shape), None if context is None else tuple(context.shape)))
        return super().apply(image, context, **options)


def big_image(path: Path, height: int = 24, width: int = 32, channels: int = 3, dtype=np.uint8):
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), pixels(3, dtype, (height, width, channels)))
    return path


def test_shrinking_runs_the_look_on_the_small_picture_seeing_the_whole_one(tmp_path):
    source = big_image(tmp_path / "a.png")
    look = Spy()
    process_image(look, Job(source, tmp_path / "b.png"), scale=0.5)
    assert look.calls == [((12, 16, 3), (1, 3, FIXED_SIZE, FIXED_SIZE))]
    written = read_image(tmp_path / "b.png").pixels
    expected = 255 - resize_pixels(read_image(source).pixels, (12, 16))
    np.testing.assert_array_equal(written, expected)


def test_a_jpeg_preview_is_decoded_small_and_sized_as_from_the_whole_photo(tmp_path):
    # 250 x 330: a quarter is 62.5 x 82.5, which the reduced decode (63 x 83) rounds otherwise.
    photo = smooth_photo(250, 330)
    jpeg, png = tmp_path / "photo.jpg", tmp_path / "photo.png"
    assert cv2.imwrite(str(jpeg), photo, [cv2.IMWRITE_JPEG_QUALITY, 95])
    assert cv2.imwrite(str(png), read_image(jpeg, "BGR").pixels)  # the same pixels, whole
    look = Spy()
    process_image(look, Job(jpeg, tmp_path / "from-jpeg.png"), scale=0.25)
    assert look.calls[0][0] == (62, 82, 3)  # the size scaling the whole photo gives
    process_image(Spy(), Job(png, tmp_path / "from-png.png"), scale=0.25)
    preview = read_image(tmp_path / "from-jpeg.png").pixels
    whole = read_image(tmp_path / "from-png.png").pixels
    assert preview.shape == whole.shape == (62, 82, 3)
    assert np.abs(preview.astype(int) - whole).mean() < 1.5


def test_enlarging_runs_the_look_at_full_size_then_resizes(tmp_path):
    source = big_image(tmp_path / "a.png")
    look = Spy()
    process_image(look, Job(source, tmp_path / "b.png"), scale=1.5)
    assert look.calls == [((24, 32, 3), (1, 3, FIXED_SIZE, FIXED_SIZE))]
    assert read_image(tmp_path / "b.png").pixels.shape == (36, 48, 3)


def test_scale_one_keeps_the_size(tmp_path):
    source = big_image(tmp_path / "a.png")
    look = Spy()
    process_image(look, Job(source, tmp_path / "b.png"), scale=1.0)
    assert look.calls == [((24, 32, 3), (1, 3, FIXED_SIZE, FIXED_SIZE))]
    np.testing.assert_array_equal(
        read_image(tmp_path / "b.png").pixels, 255 - read_image(source).pixels
    )


def test_process_image_resizes_alpha_and_keeps_16_bits(tmp_path):
    source = big_image(tmp_path / "a.png", channels=4, dtype=np.uint16)
    for scale, size in ((0.5, (12, 16)), (1.25, (30, 40))):
        destination = tmp_path / f"b{scale}.png"
        process_image(invert, Job(source, destination), scale=scale)
        written = read_image(destination)
        assert written.pixels.dtype == np.uint16 and written.pixels.shape == (*size, 3)
        assert written.alpha is not None and written.alpha.shape == size
        assert written.alpha.dtype == np.uint16


@pytest.mark.parametrize("scale", [0.0, -0.5])
def test_process_image_refuses_a_scale_not_above_zero(tmp_path, scale):
    source = image(tmp_path / "a.png")
    destination = tmp_path / "b.png"
    with pytest.raises(LutcliError, match="scale must be above 0"):
        process_image(invert, Job(source, destination), scale=scale)
    assert not destination.exists()
    summary = process_jobs(invert, [Job(source, destination)], scale=scale)
    assert summary.written == 0 and [path for path, _ in summary.failed] == [source]


# Outputs that appear meanwhile, photos too large, out of memory, notes --------------------------


class AnotherRun(Inverter):
    """A look that inverts and, meanwhile, has another run write ``path``."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def apply(self, image, context=None, **options):
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_bytes(b"another run's")
        return super().apply(image, context, **options)


def test_an_output_that_appears_meanwhile_is_kept_and_counted_as_skipped(tmp_path):
    """QA: two runs into one folder without --overwrite replaced each other's files."""
    job = Job(image(tmp_path / "a.png"), tmp_path / "out" / "a.png")
    seen = []
    summary = process_jobs(AnotherRun(job.destination), [job], on_done=lambda *a: seen.append(a))
    assert summary == Summary(written=0, skipped=1, failed=[])
    assert job.destination.read_bytes() == b"another run's"
    [(_, outcome, message)] = seen
    assert outcome == "skipped" and "appeared meanwhile" in message and "--overwrite" in message
    assert sorted(p.name for p in job.destination.parent.iterdir()) == ["a.png"]  # no temp


def test_with_overwrite_an_output_that_appears_meanwhile_is_replaced(tmp_path):
    job = Job(image(tmp_path / "a.png"), tmp_path / "out" / "a.png")
    summary = process_jobs(AnotherRun(job.destination), [job], overwrite=True)
    assert summary == Summary(written=1, skipped=0, failed=[])
    assert read_image(job.destination).pixels.shape == (6, 8, 3)


def test_a_photo_that_does_not_fit_in_memory_is_skipped_and_the_rest_go_on(tmp_path):
    jobs = [
        Job(image(tmp_path / f"{n}.png", seed=n), tmp_path / "out" / f"{n}.png") for n in (1, 2)
    ]

    first = read_image(jobs[0].source, "BGR").pixels

    class Greedy(Inverter):
        def apply(self, image, context=None, **options):
            if np.array_equal(image, first):
                raise MemoryError
            return super().apply(image, context, **options)

    summary = process_jobs(Greedy(), jobs)
    assert summary.written == 1 and [path for path, _ in summary.failed] == [jobs[0].source]
    assert (
        summary.failed[0][1]
        == f"cannot process '{jobs[0].source}': not enough memory (try fewer --jobs)"
    )
    assert not jobs[0].destination.exists() and jobs[1].destination.exists()


def test_photos_over_the_pixel_limit_are_reported_and_the_rest_go_on(tmp_path):
    small = Job(image(tmp_path / "small.png"), tmp_path / "out" / "small.png")
    large = Job(big_image(tmp_path / "large.png"), tmp_path / "out" / "large.png")
    summary = process_jobs(invert, [large, small], max_pixels=6 * 8)
    assert summary.written == 1 and [path for path, _ in summary.failed] == [large.source]
    assert "32x24 is 0.0 MP, over the limit" in summary.failed[0][1]
    # An output too: enlarged 3 times, the small photo would be 18 x 24 = 432 pixels.
    job = Job(small.source, tmp_path / "out" / "enlarged.png")
    with pytest.raises(LutcliError, match="cannot write .*enlarged.png': scaled by 3, 24x18"):
        process_image(invert, job, scale=3, max_pixels=431)
    assert not job.destination.exists()


def test_what_reading_left_out_comes_with_the_written_photo(tmp_path):
    source = tmp_path / "pages.tif"
    tifffile.imwrite(source, np.stack([pixels(n, np.uint8, (6, 8, 3)) for n in range(2)]))
    seen = []
    process_jobs(invert, [Job(source, tmp_path / "out.tif")], on_done=lambda *a: seen.append(a))
    assert [outcome for _, outcome, _ in seen] == ["written"]
    assert seen[0][2] == "only the first of its 2 pages is processed"


# Memory: bounded by the photo's own size, not a multiple of it in float -------------------------


MEASURE_PEAK = """
import sys
import numpy as np
import torch
from lutcli.models.registry import create_model
from lutcli.looks import ModelLook
from lutcli.processing import Job, process_image
from zoo_support import perturb


def kilobytes(key):
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith(key + ":"))


torch.manual_seed(0)
model = perturb(create_model("first-linear", lut_size=9), lut_noise=0.05).eval()
look = ModelLook(model, "trilinear")
from pathlib import Path
small, big, out = map(Path, sys.argv[1:4])
process_image(look, Job(small, out / "small.png"), scale=0.25)  # all loaded and warm
with open("/proc/self/clear_refs", "w") as clear:  # the peak starts again from here
    clear.write("5")
held = kilobytes("VmRSS")
process_image(look, Job(big, out / "big.png"), scale=0.25, max_pixels=13_000_000)
print((kilobytes("VmHWM") - held) * 1024)
"""


def test_memory_stays_near_the_photos_own_size(tmp_path):
    """QA: 30000 x 20000 took 4.1 GB (warm) and 9.4 GB (auto). Now an adaptive look at a
    quarter size takes under 3 times the decoded photo above what was held before, where a
    float copy alone is 4 times (OpenCV's decoders briefly hold the photo twice)."""
    photo = smooth_photo(3000, 4000)
    assert cv2.imwrite(str(tmp_path / "big.png"), photo)
    assert cv2.imwrite(str(tmp_path / "small.png"), photo[:300, :400])
    (tmp_path / "out").mkdir()
    tests = Path(__file__).parent
    paths = [str(tmp_path / name) for name in ("small.png", "big.png", "out")]
    environment = {**os.environ, "PYTHONPATH": str(tests)}
    run = subprocess.run(
        [sys.executable, "-c", MEASURE_PEAK, *paths],
        capture_output=True, text=True, timeout=300, env=environment,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    peak = int(run.stdout.split()[-1])
    assert peak < 3 * photo.nbytes, f"{peak / 1e6:.0f} MB for a {photo.nbytes / 1e6:.0f} MB photo"
    assert read_image(tmp_path / "out" / "big.png").pixels.shape == (750, 1000, 3)


# Parallel jobs ----------------------------------------------------------------------------------


class Overlap(Inverter):
    """A look that inverts and records how many calls ran at the same time."""

    def __init__(self) -> None:
        import threading

        self.lock = threading.Lock()
        self.running = 0
        self.most = 0

    def apply(self, image, context=None, **options):
        import time

        with self.lock:
            self.running += 1
            self.most = max(self.most, self.running)
        time.sleep(0.05)  # long enough for the other workers to start theirs
        with self.lock:
            self.running -= 1
        return super().apply(image, context, **options)


def test_parallel_jobs_give_the_same_files_with_at_most_that_many_photos_at_once(tmp_path):
    jobs = [
        Job(image(tmp_path / f"{n}.png", seed=n), tmp_path / "out" / f"{n}.png") for n in range(9)
    ]
    look = Overlap()
    seen = []
    summary = process_jobs(look, jobs, on_done=lambda job, *_: seen.append(job), parallel_jobs=3)
    assert summary == Summary(written=9, skipped=0, failed=[])
    assert sorted(seen, key=str) == sorted(jobs, key=str)  # every job reported, once
    assert look.most == 3  # the photos in memory at once: never more than the parallel jobs
    for job in jobs:
        np.testing.assert_array_equal(
            read_image(job.destination).pixels, 255 - read_image(job.source).pixels
        )


def test_parallel_jobs_record_failures_and_go_on(tmp_path):
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n not really")
    jobs = [
        Job(image(tmp_path / f"{n}.png", seed=n), tmp_path / "out" / f"{n}.png") for n in range(4)
    ]
    jobs.insert(2, Job(bad, tmp_path / "out" / "bad.png"))
    summary = process_jobs(invert, jobs, parallel_jobs=2)
    assert summary.written == 4 and [path for path, _ in summary.failed] == [bad]
    assert not (tmp_path / "out" / "bad.png").exists()


def test_ctrl_c_that_the_kernel_hands_to_a_worker_thread_stops_parallel_jobs_at_once(
    tmp_path, monkeypatch
):
    """The kernel may deliver Ctrl-C to any thread of the process (an encoder's, the LUT
    kernel's): the jobs running stop at their next frame all the same, not at their end."""
    frames_done = {}

    def run_job(look, job, overwrite, *settings_then_on_frame):
        on_frame = settings_then_on_frame[-1]
        if job.source.name == "0.mp4":
            signal.pthread_kill(threading.get_ident(), signal.SIGINT)
        for done in range(1, 301):  # a clip of 300 frames, 10 ms each
            time.sleep(0.01)
            frames_done[job.source.name] = done
            on_frame(done, 300)
        return "written", ""

    monkeypatch.setattr(processing, "run_job", run_job)
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        with pytest.raises(KeyboardInterrupt):
            jobs = [Job(tmp_path / f"{n}.mp4", tmp_path / "out" / f"{n}.mp4") for n in range(2)]
            process_jobs(invert, jobs, parallel_jobs=2)
    finally:
        signal.signal(signal.SIGINT, previous)
    assert sorted(frames_done) == ["0.mp4", "1.mp4"]
    assert max(frames_done.values()) < 100, frames_done
