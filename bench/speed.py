"""lutcli's speed beside the tools people use, side by side in one run (``make bench``).

On one 12 MP photo (a mosaic of the sample photos) and one LUT (the shipped ``film`` preset,
33³):

- applying the LUT in every mode (uint8, uint16 and float32 pixels; trilinear and tetrahedral),
  on one core and on all: lutcli's kernel against each peer's fastest path in that mode:
  OpenColorIO's CPU processor optimized for the depth on packed pixels, ffmpeg's ``lut3d`` on
  the faster of its packed and planar formats, Pillow's ``Color3DLUT`` (uint8 trilinear only)
  and torch ``grid_sample`` (float32 trilinear); peers that run on one core get one band of
  rows per thread. Every row prints the call it timed;
- start-up: ``lutcli apply`` grading one small photo with a .cube, against Python loading
  numpy and OpenCV;
- training: one forward and backward pass of a batch through a learnable LUT, lutcli's kernel
  against ``grid_sample`` and lutcli's torch reference;
- a folder of 12 MP JPEGs: ``lutcli apply`` against a Pillow process pool and an ffmpeg loop
  doing the same job (decode, LUT, encode at the same quality), in images per second, with
  OpenCV decoding and encoding alone as the ceiling; and one of its photos on one core, stage
  by stage (decoding and encoding by OpenCV and by lutcli, the LUT).

Every figure is the best of a few repetitions (start-up: the median); ratios compare rows of
the same run. Prints Markdown tables (those in the README) and writes JSON.

    .venv/bin/python bench/speed.py                 # everything, about 6 minutes on 2 cores
    .venv/bin/python bench/speed.py --parts apply   # apply, start-up, training, folder
    .venv/bin/python bench/speed.py --parts apply --simd x86-64-v3   # as without AVX-512
"""

from __future__ import annotations

import argparse
import functools
import itertools
import json
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from pathlib import Path

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from machine import LUTCLI, compile_lutcli, describe
from PIL import Image, ImageFilter

from lutcli.io.images import read_image, write_image
from lutcli.kernels import chosen_kernels, cpu
from lutcli.lut.formats import read_lut
from lutcli.lut.interpolate import apply_lut, reference_apply_lut
from lutcli.samples import sample_photos

ROOT = Path(__file__).resolve().parent.parent
LUT_PATH = ROOT / "presets" / "film.cube"
PHOTO_SIZE = (3000, 4000)  # (height, width): 12 MP
JPEG_QUALITY = 95
OPENCV_CEILING = "ceiling: OpenCV decode + encode, no LUT (threads)"
PARTS = ("apply", "start-up", "training", "folder", "gpu")  # gpu: where torch sees a CUDA GPU


def parse_args() -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", type=Path, default=Path("bench-output/speed.json"))
    parser.add_argument("--work", type=Path, default=Path("bench-output/speed"))
    parser.add_argument(
        "--parts", default=",".join(PARTS), help="comma-separated: " + ", ".join(PARTS)
    )
    parser.add_argument("--repeats", type=int, default=3, help="best of this many runs")
    parser.add_argument("--folder-images", type=int, default=32, help="the large folder")
    parser.add_argument(
        "--simd",
        help="run the kernels timed in this process (apply, training) at this SIMD level, "
        "one of lutcli.kernels.cpu.simd_levels(); default: the best",
    )
    return parser.parse_args()


def best_seconds(run: Callable[[], object], repeats: int) -> float:
    """The fastest of ``repeats`` runs (after one warm-up run)."""
    run()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return min(times)


def mosaic(size: tuple[int, int]) -> np.ndarray:
    """A (H, W, 3) uint8 photo of ``size`` tiled from the sample photos (real image content:
    skies, skin, foliage, text), 4 × 3 tiles."""
    photos = list(sample_photos().values())
    rows, columns = 3, 4
    tile = (size[0] // rows, size[1] // columns)
    tiles = [
        cv2.resize(photos[i % len(photos)], (tile[1], tile[0]), interpolation=cv2.INTER_CUBIC)
        for i in range(rows * columns)
    ]
    grid = [np.hstack(tiles[r * columns : (r + 1) * columns]) for r in range(rows)]
    return np.ascontiguousarray(np.vstack(grid))


def lut_tensor() -> torch.Tensor:
    """The benchmark LUT as (3, D, D, D)."""
    return torch.from_numpy(read_lut(LUT_PATH).lut.table)


def pillow_table(lut: torch.Tensor) -> list[float]:
    """A (3, D, D, D) LUT as Pillow's Color3DLUT takes it: RGB triplets, red fastest."""
    return lut.permute(1, 2, 3, 0).reshape(-1, 3).clamp(0, 1).numpy().ravel().tolist()


def grid_sample_lut(image: torch.Tensor, lut: torch.Tensor) -> torch.Tensor:
    """(N, 3, H, W) through a (3, D, D, D) LUT with torch's grid_sample, the usual way in
    learned-LUT code: the LUT as a volume [b, g, r], the colors as its (r, g, b) coordinates."""
    grid = (image * 2 - 1).permute(0, 2, 3, 1).unsqueeze(1)
    volume = lut.unsqueeze(0).expand(image.shape[0], -1, -1, -1, -1)
    return F.grid_sample(volume, grid, mode="bilinear", align_corners=True)


def training_pass(
    forward: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    image: torch.Tensor,
    lut: torch.Tensor,
    upstream: torch.Tensor,
) -> None:
    """One forward and backward pass of ``forward`` with the output's gradient ``upstream``,
    gradients for both leaves ``image`` and ``lut``."""
    image.grad = lut.grad = None
    forward(image, lut).reshape(upstream.shape).backward(upstream)


# Applying ----------------------------------------------------------------------------------------


# The modes an apply is measured in: pixel depth and interpolation, each on one core and on all.
DEPTHS = ("uint8", "uint16", "float32")
INTERPOLATIONS = ("trilinear", "tetrahedral")
# ffmpeg's lut3d takes packed and planar formats: the faster of these counts for each depth.
FFMPEG_FORMATS = {
    "uint8": ("rgb24", "gbrp"),
    "uint16": ("rgb48le", "gbrp16le"),
    "float32": ("gbrpf32le",),
}
Add = Callable[[str, str, int, str, Callable[[], object]], None]


def in_depth(photo: np.ndarray, depth: str) -> np.ndarray:
    """The 8-bit ``photo`` as pixels of ``depth``."""
    if depth == "uint8":
        return photo
    if depth == "uint16":
        return photo.astype(np.uint16) * 257
    return photo.astype(np.float32) / 255


def in_bands(
    pool: ThreadPoolExecutor | None, threads: int, height: int, run_band: Callable[[slice], object]
) -> None:
    """``run_band(rows)`` over the rows of a picture ``height`` high in ``threads`` bands at the
    same time, each on one of the pool's threads (all at once without a pool): how a peer that
    runs on one core is spread over several, its calls releasing the GIL."""
    edges = np.linspace(0, height, threads + 1).astype(int)
    bands = [slice(a, b) for a, b in itertools.pairwise(edges)]
    if pool is None:
        for band in bands:
            run_band(band)
        return
    list(pool.map(run_band, bands))


def apply_rows(photo: np.ndarray, repeats: int, cores: int) -> list[dict]:
    """MP/s of each way to apply the LUT to ``photo``, in every mode, on one core and on all;
    each row with the call it timed."""
    megapixels = photo.shape[0] * photo.shape[1] / 1e6
    lut = lut_tensor()
    table = lut.numpy()
    rows = []
    counts = sorted({1, cores})
    pools = {threads: ThreadPoolExecutor(threads) if threads > 1 else None for threads in counts}

    def add(tool: str, mode: str, threads: int, call: str, run: Callable[[], object]) -> None:
        rate = megapixels / best_seconds(run, repeats)
        row = {"tool": tool, "variant": mode, "threads": threads, "mp_per_s": rate, "call": call}
        rows.append(row)
        print(f"  {tool} {mode} x{threads}: {rate:.1f} MP/s", file=sys.stderr)

    for depth in DEPTHS:
        pixels = in_depth(photo, depth)
        out = np.empty_like(pixels)
        for interp, threads in itertools.product(INTERPOLATIONS, counts):
            call = f"lutcli.kernels.cpu.apply_to_pixels(pixels, table, {interp!r}, {threads}, out)"

            def run(pixels=pixels, out=out, interp=interp, threads=threads) -> None:
                cpu.apply_to_pixels(pixels, table, interp, threads, out)

            add("lutcli", f"{depth} {interp}", threads, call, run)

    image = torch.from_numpy(in_depth(photo, "float32")).permute(2, 0, 1).unsqueeze(0)
    grid = (image * 2 - 1).permute(0, 2, 3, 1).unsqueeze(1).contiguous()
    volume = lut.unsqueeze(0)
    for threads in counts:
        torch.set_num_threads(threads)
        call = "F.grid_sample(lut[None], grid, mode='bilinear', align_corners=True)"
        add("torch grid_sample", "float32 trilinear", threads, call,
            lambda: F.grid_sample(volume, grid, mode="bilinear", align_corners=True))  # fmt: skip
    torch.set_num_threads(cores)

    pillow_lut = ImageFilter.Color3DLUT(lut.shape[-1], pillow_table(lut))

    def pillow_band(rows: slice) -> None:
        Image.fromarray(photo[rows]).filter(pillow_lut)

    for threads, pool in pools.items():
        call = f"Image.fromarray(rows).filter(ImageFilter.Color3DLUT(33, table)), {threads} bands"
        run = functools.partial(in_bands, pool, threads, photo.shape[0], pillow_band)
        add("Pillow Color3DLUT", "uint8 trilinear", threads, call, run)

    add_opencolorio_rows(photo, pools, add)
    for pool in pools.values():
        if pool is not None:
            pool.shutdown()
    add_ffmpeg_rows(photo, repeats, counts, rows)
    return rows


def add_ffmpeg_rows(photo: np.ndarray, repeats: int, counts: list[int], rows: list[dict]):
    """ffmpeg's lut3d filter in every mode, on raw frames of the photo in each pixel format it
    takes for that depth (the faster counts); the time of the same command with a null filter
    (reading the frames) is taken off."""
    if shutil.which("ffmpeg") is None:
        print("  ffmpeg not found: skipped", file=sys.stderr)
        return
    frames = 3
    megapixels = frames * photo.shape[0] * photo.shape[1] / 1e6
    height, width = photo.shape[:2]
    with tempfile.TemporaryDirectory() as folder:
        for depth in DEPTHS:
            pixels = in_depth(photo, depth)
            best: dict[tuple[str, int], tuple[float, str]] = {}
            for pixel_format in FFMPEG_FORMATS[depth]:
                raw = Path(folder) / f"photo.{pixel_format}"
                planar = pixel_format.startswith("gbrp")  # planes in the order G, B, R
                data = pixels[..., [1, 2, 0]].transpose(2, 0, 1) if planar else pixels
                raw.write_bytes(np.ascontiguousarray(data).tobytes() * frames)  # little-endian
                for threads in counts:
                    command = ["ffmpeg", "-v", "error", "-f", "rawvideo", "-pix_fmt",
                               pixel_format, "-s", f"{width}x{height}", "-i", str(raw),
                               "-filter_threads", str(threads), "-f", "null", "-"]  # fmt: skip

                    def timed(video_filter: str, command=command) -> float:
                        filtered = command[:-3] + ["-vf", video_filter] + command[-3:]
                        run = lambda: subprocess.run(filtered, check=True)  # noqa: E731
                        return best_seconds(run, repeats)

                    baseline = timed("null")
                    for interp in INTERPOLATIONS:
                        lut3d = f"lut3d=file='{LUT_PATH}':interp={interp}"
                        rate = megapixels / max(timed(lut3d) - baseline, 1e-6)
                        if rate > best.get((interp, threads), (0.0, ""))[0]:
                            call = command[:-3] + ["-vf", lut3d] + command[-3:]
                            best[interp, threads] = (rate, " ".join(call))
            for (interp, threads), (rate, call) in best.items():
                rows.append({
                    "tool": "ffmpeg lut3d", "variant": f"{depth} {interp}", "threads": threads,
                    "mp_per_s": rate, "call": call + " (less the same with -vf null)",
                })  # fmt: skip
                print(f"  ffmpeg lut3d {depth} {interp} x{threads}: {rate:.1f} MP/s",
                      file=sys.stderr)  # fmt: skip


def add_opencolorio_rows(photo: np.ndarray, pools: dict, add: Add) -> None:
    """OpenColorIO's CPU processor for the .cube file in every mode, through its fastest path:
    a processor optimized for the depth, on packed pixels (PackedImageDesc), in place; on
    several cores, one band of rows per thread."""
    try:
        import PyOpenColorIO as ocio
    except ImportError:
        print("  OpenColorIO not installed: skipped", file=sys.stderr)
        return
    bit_depths = {
        "uint8": ocio.BIT_DEPTH_UINT8,
        "uint16": ocio.BIT_DEPTH_UINT16,
        "float32": ocio.BIT_DEPTH_F32,
    }
    interps = {"trilinear": ocio.INTERP_LINEAR, "tetrahedral": ocio.INTERP_TETRAHEDRAL}
    config = ocio.Config.CreateRaw()
    for depth, interp in itertools.product(DEPTHS, INTERPOLATIONS):
        bit_depth = bit_depths[depth]
        transform = ocio.FileTransform(str(LUT_PATH), interpolation=interps[interp])
        processor = config.getProcessor(transform).getOptimizedCPUProcessor(
            bit_depth, bit_depth, ocio.OPTIMIZATION_DEFAULT
        )
        buffer = in_depth(photo, depth).copy()

        def band(rows: slice, buffer=buffer, processor=processor, bit_depth=bit_depth) -> None:
            part = buffer[rows]
            (height, width), size = part.shape[:2], part.itemsize
            description = ocio.PackedImageDesc(
                part, width, height, 3, bit_depth, size, 3 * size, 3 * size * width
            )
            processor.apply(description)

        for threads, pool in pools.items():
            call = (
                f"getOptimizedCPUProcessor({bit_depth.name}, same, OPTIMIZATION_DEFAULT)"
                f".apply(PackedImageDesc(rows, ...)), {threads} bands"
            )
            run = functools.partial(in_bands, pool, threads, len(buffer), band)
            add("OpenColorIO", f"{depth} {interp}", threads, call, run)


def startup_rows(work: Path) -> list[dict]:
    """Seconds ``lutcli apply`` takes to grade one small photo with a .cube file, where start-up
    is nearly all of it (the median of 7 runs); beside it Python loading numpy and OpenCV, which
    reading and writing photos need: the floor."""
    work.mkdir(parents=True, exist_ok=True)
    photo = work / "small.png"
    cv2.imwrite(str(photo), mosaic((64, 96)))
    calls = {
        "lutcli apply, one small photo, a .cube": [str(LUTCLI), "apply", str(photo),
            str(work / "small-graded.png"), "--lut", str(LUT_PATH), "-q", "--overwrite"],
        "python -c 'import numpy, cv2'": [sys.executable, "-c", "import numpy, cv2"],
    }  # fmt: skip
    rows = []
    for name, command in calls.items():
        times = []
        for _ in range(7):
            start = time.perf_counter()
            subprocess.run(command, check=True)
            times.append(time.perf_counter() - start)
        seconds = float(np.median(times))
        rows.append({"tool": name, "seconds": seconds, "call": " ".join(command)})
        print(f"  {name}: {seconds:.2f} s", file=sys.stderr)
    return rows


# Training ----------------------------------------------------------------------------------------


def training_rows(repeats: int, cores: int) -> list[dict]:
    """One forward and backward pass of the interpolation: 8 crops of 256² through a learnable
    33³ LUT, the gradient of the output given, gradients for the LUT and for the image; what a
    training step spends in the LUT (the loss around it is the same for every way)."""
    generator = torch.Generator().manual_seed(0)
    image = torch.rand(8, 3, 256, 256, generator=generator).requires_grad_()
    lut = lut_tensor().requires_grad_()
    upstream = torch.randn(8, 3, 256, 256, generator=generator)
    megapixels = image.numel() / 3 / 1e6

    ways = (
        ("lutcli kernel", apply_lut),
        ("lutcli torch reference", reference_apply_lut),
        ("torch grid_sample", grid_sample_lut),
    )
    rows = []
    torch.set_num_threads(cores)
    for name, forward in ways:
        seconds = best_seconds(lambda f=forward: training_pass(f, image, lut, upstream), repeats)
        rows.append(
            {
                "tool": name,
                "threads": cores,
                "ms_per_step": seconds * 1e3,
                "mp_per_s": megapixels / seconds,
            }
        )
        print(f"  {name}: {seconds * 1e3:.1f} ms per step", file=sys.stderr)
    return rows


# GPU ---------------------------------------------------------------------------------------------


def gpu_rows(repeats: int) -> list[dict]:
    """On a CUDA GPU: a 4K photo (3840 × 2160, float32, already on the GPU) through the LUT,
    and the training pass of ``training_rows``, lutcli's Triton kernel against grid_sample."""
    from lutcli.kernels import cuda

    device = torch.device("cuda")
    lut = lut_tensor().to(device)
    photo = torch.rand(1, 3, 2160, 3840, device=device)
    batch = torch.rand(8, 3, 256, 256, device=device).requires_grad_()
    learned = lut.clone().requires_grad_()
    upstream = torch.randn(8, 3, 256, 256, device=device)

    def timed(run: Callable[[], object]) -> float:
        def synchronized() -> None:
            run()
            torch.cuda.synchronize()

        return best_seconds(synchronized, max(repeats, 10))

    ways = [("lutcli kernel", apply_lut), ("torch grid_sample", grid_sample_lut)]
    rows = []
    for name, forward in ways:
        with torch.no_grad():
            apply_ms = timed(lambda f=forward: f(photo, lut)) * 1e3
        train_ms = timed(lambda f=forward: training_pass(f, batch, learned, upstream)) * 1e3
        rows.append({"tool": name, "apply_4k_ms": apply_ms, "training_ms": train_ms})
        print(
            f"  {name}: 4K in {apply_ms:.2f} ms, training pass {train_ms:.2f} ms", file=sys.stderr
        )
    triton = chosen_kernels() != "reference" and cuda.runs_on(photo.device)
    rows[0]["kernel"] = "triton" if triton else "torch reference"
    return rows


# Folder ------------------------------------------------------------------------------------------


def _pillow_job(arguments: tuple[str, str, int, list[float]]) -> None:
    """One photo the Pillow way: decode, Color3DLUT, encode (a process pool worker)."""
    source, destination, size, table = arguments
    with Image.open(source) as picture:
        result = picture.filter(ImageFilter.Color3DLUT(size, table))
    result.save(destination, quality=JPEG_QUALITY, subsampling=0)


def folder_rows(photo: np.ndarray, count: int, work: Path, repeats: int, cores: int) -> list[dict]:
    """Each tool on folders of ``count`` and of ``count // 4`` 12 MP JPEGs: the wall time of
    the large one, and the throughput, images/s = extra images / extra seconds, which leaves
    out what a tool pays once per run (a program's start, a process pool's). Beside them the
    ceiling: OpenCV decoding and encoding the same photos (4:4:4 at the same quality, as
    lutcli writes them) on a thread per core, no LUT, no metadata, no start."""
    inputs = {size: work / f"folder{size}" for size in (count // 4, count)}
    for size, folder in inputs.items():
        folder.mkdir(parents=True, exist_ok=True)
        for index in range(size):
            path = folder / f"{index:03d}.jpg"
            if not path.exists():
                shifted = np.roll(photo, 97 * index, axis=1)  # each photo a little different
                Image.fromarray(shifted).save(path, quality=JPEG_QUALITY, subsampling=0)
    lut = lut_tensor()
    table = pillow_table(lut)
    outputs = work / "out"

    def fresh() -> Path:
        shutil.rmtree(outputs, ignore_errors=True)
        outputs.mkdir(parents=True)
        return outputs

    def run_lutcli(folder: Path) -> None:
        quality = str(JPEG_QUALITY)
        command = [str(LUTCLI), "apply", str(folder), str(fresh()), "--cube", str(LUT_PATH), "-q"]
        subprocess.run([*command, "--jpeg-quality", quality], check=True)

    def run_pillow(folder: Path) -> None:
        target = fresh()
        jobs = [
            (str(s), str(target / s.name), lut.shape[-1], table) for s in sorted(folder.iterdir())
        ]
        with ProcessPoolExecutor(cores) as pool:
            list(pool.map(_pillow_job, jobs))

    def run_ffmpeg(folder: Path) -> None:
        target = fresh()
        for source in sorted(folder.iterdir()):
            command = [
                "ffmpeg", "-v", "error", "-i", str(source),
                "-vf", f"lut3d=file='{LUT_PATH}'", "-q:v", "2", str(target / source.name),
            ]  # fmt: skip
            subprocess.run(command, check=True)

    def run_opencv(folder: Path) -> None:
        target = fresh()
        options = [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY]
        options += [cv2.IMWRITE_JPEG_SAMPLING_FACTOR, cv2.IMWRITE_JPEG_SAMPLING_FACTOR_444]

        def job(source: Path) -> None:
            pixels = cv2.imread(str(source), cv2.IMREAD_UNCHANGED)
            cv2.imwrite(str(target / source.name), pixels, options)

        with ThreadPoolExecutor(cores) as pool:
            list(pool.map(job, sorted(folder.iterdir())))

    ways = [
        ("lutcli apply", run_lutcli),
        ("Pillow process pool", run_pillow),
        (OPENCV_CEILING, run_opencv),
    ]
    if shutil.which("ffmpeg") is not None:
        ways.append(("ffmpeg loop", run_ffmpeg))
    rows = []
    small, large = sorted(inputs)
    for name, run in ways:
        seconds = {
            n: best_seconds(lambda n=n, r=run: r(inputs[n]), repeats) for n in (small, large)
        }
        rate = (large - small) / (seconds[large] - seconds[small])
        rows.append(
            {
                "tool": name,
                "images": large,
                "seconds": seconds[large],
                "seconds_small": seconds[small],
                "images_small": small,
                "images_per_s": rate,
            }
        )
        print(f"  {name}: {rate:.2f} images/s, {seconds[large]:.1f} s for {large}", file=sys.stderr)
    shutil.rmtree(outputs, ignore_errors=True)
    return rows


def stage_rows(photo_path: Path, work: Path, repeats: int) -> list[dict]:
    """Milliseconds of each stage of one photo of the folder on one core: decoding and encoding
    by OpenCV (the ceiling's) and by lutcli, and the LUT, each with its call."""
    data = photo_path.read_bytes()
    picture = read_image(photo_path, "BGR")
    pixels = picture.pixels.copy()
    table = lut_tensor().numpy()
    options = [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY]
    options += [cv2.IMWRITE_JPEG_SAMPLING_FACTOR, cv2.IMWRITE_JPEG_SAMPLING_FACTOR_444]
    output = work / "stage.jpg"
    stages = {
        "decode, OpenCV": (
            "cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)",
            lambda: cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED),
        ),
        "decode, lutcli": (
            "lutcli.io.images.read_image(path, 'BGR')",
            lambda: read_image(photo_path, "BGR"),
        ),
        "LUT, lutcli": (
            "lutcli.kernels.cpu.apply_to_pixels(pixels, table, 'trilinear', 1, pixels)",
            lambda: cpu.apply_to_pixels(pixels, table, "trilinear", 1, pixels),
        ),
        "encode, OpenCV": (
            f"cv2.imencode('.jpg', pixels, [quality {JPEG_QUALITY}, 4:4:4])",
            lambda: cv2.imencode(".jpg", pixels, options),
        ),
        "encode, lutcli": (
            f"lutcli.io.images.write_image(path, picture, {JPEG_QUALITY})",
            lambda: write_image(output, picture, JPEG_QUALITY),
        ),
    }
    rows = []
    for stage, (call, run) in stages.items():
        seconds = best_seconds(run, repeats + 2)
        rows.append({"stage": stage, "ms": seconds * 1000, "call": call})
        print(f"  {stage}: {seconds * 1000:.1f} ms", file=sys.stderr)
    output.unlink(missing_ok=True)
    return rows


# Report ------------------------------------------------------------------------------------------


def ratio(
    rows: list[dict], key: str, tool: str, against: str, threads: int | None = None
) -> float | None:
    """How many times faster ``tool`` is than ``against`` (same number of threads if given)."""

    def value(name: str) -> float | None:
        for row in rows:
            if row["tool"] == name and (threads is None or row.get("threads") == threads):
                return row[key]
        return None

    mine, theirs = value(tool), value(against)
    return None if mine is None or theirs is None else mine / theirs


def against_best_peers(rows: list[dict]) -> list[tuple[dict, dict | None]]:
    """Each lutcli apply row with the fastest other tool's row of the same mode and threads."""
    pairs = []
    for mine in (row for row in rows if row["tool"] == "lutcli"):
        peers = [
            row
            for row in rows
            if row["tool"] != "lutcli"
            and (row["variant"], row["threads"]) == (mine["variant"], mine["threads"])
        ]
        pairs.append((mine, max(peers, key=lambda row: row["mp_per_s"], default=None)))
    return pairs


def print_tables(results: dict) -> None:
    """The Markdown tables of the README."""
    print(f"Machine: {results['machine']}\n")
    if "apply" in results:
        print("| apply, 12 MP | threads | lutcli (MP/s) | best peer | peer (MP/s) | ratio |")
        print("|---|---:|---:|---|---:|---:|")
        for mine, peer in against_best_peers(results["apply"]):
            line = f"| {mine['variant']} | {mine['threads']} | {mine['mp_per_s']:.1f} "
            if peer is None:
                print(line + "| none | | |")
                continue
            times = mine["mp_per_s"] / peer["mp_per_s"]
            print(line + f"| {peer['tool']} | {peer['mp_per_s']:.1f} | {times:.2f}× |")
        print("\nEvery row and its call:\n")
        for row in results["apply"]:
            print(f"- {row['tool']}, {row['variant']}, threads {row['threads']}: "
                  f"{row['mp_per_s']:.1f} MP/s: `{row['call']}`")  # fmt: skip
        print()
    if "start-up" in results:
        print("| start-up | seconds (median of 7) |\n|---|---:|")
        for row in results["start-up"]:
            print(f"| `{row['call']}` | {row['seconds']:.2f} |")
        print()
    if "training" in results:
        print("| training: forward + backward (8 × 256², 33³ LUT) | ms | vs grid_sample |")
        print("|---|---|---|")
        for row in results["training"]:
            times = ratio(results["training"], "mp_per_s", row["tool"], "torch grid_sample")
            print(f"| {row['tool']} | {row['ms_per_step']:.1f} | {times:.2f}× |")
        print()
    if "folder" in results:
        rows = results["folder"]
        count = rows[0]["images"]
        pool = next(row for row in rows if row["tool"] == "Pillow process pool")
        print(
            f"| folder of 12 MP JPEGs | images/s | vs Pillow pool | wall time, {count} images "
            "| vs Pillow pool, wall time |"
        )
        print("|---|---:|---:|---:|---:|")
        for row in rows:
            times = row["images_per_s"] / pool["images_per_s"]
            wall = pool["seconds"] / row["seconds"]
            print(
                f"| {row['tool']} | {row['images_per_s']:.2f} | {times:.2f}× "
                f"| {row['seconds']:.1f} s | {wall:.2f}× |"
            )
        print()
    if "stages" in results:
        print("| one photo of the folder, one core | ms | call |\n|---|---:|---|")
        for row in results["stages"]:
            print(f"| {row['stage']} | {row['ms']:.1f} | `{row['call']}` |")
        print()
    if "gpu" in results:
        print(f"| on {results['gpu_name']} | 4K photo (ms) | training pass (ms) |")
        print("|---|---|---|")
        for row in results["gpu"]:
            print(f"| {row['tool']} | {row['apply_4k_ms']:.2f} | {row['training_ms']:.2f} |")
        print()
    for line in results["ratios"]:
        print(f"- {line}")


def summary_ratios(results: dict) -> list[str]:
    """The ratios the speed goals are stated in."""
    lines = []
    pairs = against_best_peers(results.get("apply", []))
    slowest = min(
        (pair for pair in pairs if pair[1] is not None),
        key=lambda pair: pair[0]["mp_per_s"] / pair[1]["mp_per_s"],
        default=None,
    )
    if slowest is not None:
        mine, peer = slowest
        lines.append(
            f"apply, the mode furthest behind: {mine['variant']} on {mine['threads']} threads, "
            f"{mine['mp_per_s'] / peer['mp_per_s']:.2f}× {peer['tool']}"
        )
    for mine, _ in pairs:
        if mine["variant"] == "uint8 tetrahedral" and mine["threads"] == 1:
            lines.append(f"uint8 tetrahedral apply, one core: {mine['mp_per_s']:.0f} MP/s")
    if "training" in results:
        times = ratio(results["training"], "mp_per_s", "lutcli kernel", "torch grid_sample")
        lines.append(f"training forward + backward: {times:.2f}× grid_sample")
    if "folder" in results:
        rows = results["folder"]
        times = ratio(rows, "images_per_s", "lutcli apply", "Pillow process pool")
        lines.append(f"folder of JPEGs: {times:.2f}× the Pillow process pool")
        ceiling = ratio(rows, "images_per_s", "lutcli apply", OPENCV_CEILING)
        if ceiling is not None:
            lines.append(f"folder of JPEGs: {ceiling:.0%} of OpenCV's decode + encode alone")
    return lines


def main() -> None:
    """Run the chosen parts, print the tables, write the JSON."""
    args = parse_args()
    if not cpu.available():
        sys.exit("the compiled kernels are not built: run `make install` first")
    if args.simd is not None:
        cpu.use_simd(args.simd)
    compile_lutcli()
    cores = cpu.cpu_count()
    parts = args.parts.split(",")
    results: dict = {"machine": describe(), "cores": cores}
    photo = mosaic(PHOTO_SIZE)
    if "apply" in parts:
        print("apply:", file=sys.stderr)
        results["apply"] = apply_rows(photo, args.repeats, cores)
    if "start-up" in parts:
        print("start-up:", file=sys.stderr)
        results["start-up"] = startup_rows(args.work)
    if "training" in parts:
        print("training:", file=sys.stderr)
        results["training"] = training_rows(args.repeats, cores)
    if "folder" in parts:
        print("folder:", file=sys.stderr)
        results["folder"] = folder_rows(photo, args.folder_images, args.work, args.repeats, cores)
        first = args.work / f"folder{args.folder_images}" / "000.jpg"
        results["stages"] = stage_rows(first, args.work, args.repeats)
    if "gpu" in parts and torch.cuda.is_available():
        print(f"gpu ({torch.cuda.get_device_name()}):", file=sys.stderr)
        results["gpu"] = gpu_rows(args.repeats)
        results["gpu_name"] = torch.cuda.get_device_name()
    results["ratios"] = summary_ratios(results)
    print_tables(results)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(results, indent=2) + "\n")
    print(f"\nwrote {args.json}", file=sys.stderr)


if __name__ == "__main__":
    main()
