"""lutcli's speed beside the tools people use, side by side in one run (``make bench``).

On one 12 MP photo (a mosaic of the sample photos, 8-bit) and one LUT (the shipped ``film``
preset, 33³):

- applying the LUT: lutcli's kernels against torch ``grid_sample``, Pillow's ``Color3DLUT``,
  ffmpeg's ``lut3d`` and OpenColorIO, in megapixels per second on one core and on all cores;
- training: one forward and backward pass of a batch through a learnable LUT, lutcli's kernel
  against ``grid_sample`` and lutcli's torch reference;
- a folder of 12 MP JPEGs: ``lutcli apply`` against a Pillow process pool and an ffmpeg loop
  doing the same job (decode, LUT, encode at the same quality), in images per second.

Every figure is the best of a few repetitions; ratios compare rows of the same run. Prints
Markdown tables (those in the README) and writes JSON.

    .venv/bin/python bench/speed.py                 # everything, about 3 minutes on 2 cores
    .venv/bin/python bench/speed.py --parts apply   # apply, training, folder
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from machine import describe
from PIL import Image, ImageFilter

from lutcli.kernels import chosen_kernels, cpu
from lutcli.lut.formats import read_lut
from lutcli.lut.interpolate import apply_lut, reference_apply_lut
from lutcli.samples import sample_photos

ROOT = Path(__file__).resolve().parent.parent
LUT_PATH = ROOT / "presets" / "film.cube"
PHOTO_SIZE = (3000, 4000)  # (height, width): 12 MP
JPEG_QUALITY = 95
PARTS = ("apply", "training", "folder", "gpu")  # gpu: only where torch sees a CUDA GPU


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


def apply_rows(photo: np.ndarray, repeats: int, cores: int) -> list[dict]:
    """MP/s of each way to apply the LUT to ``photo``, on one core and on all."""
    megapixels = photo.shape[0] * photo.shape[1] / 1e6
    lut = lut_tensor()
    rows = []

    def add(tool: str, variant: str, threads: int, run: Callable[[], object]) -> None:
        seconds = best_seconds(run, repeats)
        rows.append(
            {"tool": tool, "variant": variant, "threads": threads, "mp_per_s": megapixels / seconds}
        )
        print(f"  {tool} {variant} x{threads}: {megapixels / seconds:.1f} MP/s", file=sys.stderr)

    out = np.empty_like(photo)
    for threads in sorted({1, cores}):
        for interp in ("trilinear", "tetrahedral"):
            add("lutcli", f"uint8 {interp}", threads,
                lambda t=threads, i=interp: cpu.apply_to_pixels(photo, lut, i, t, out))  # fmt: skip
    photo16 = photo.astype(np.uint16) * 257
    out16 = np.empty_like(photo16)
    add(
        "lutcli",
        "uint16 trilinear",
        cores,
        lambda: cpu.apply_to_pixels(photo16, lut, "trilinear", cores, out16),
    )
    photo32 = photo.astype(np.float32) / 255
    out32 = np.empty_like(photo32)
    add(
        "lutcli",
        "float32 trilinear",
        cores,
        lambda: cpu.apply_to_pixels(photo32, lut, "trilinear", cores, out32),
    )

    image = torch.from_numpy(photo32).permute(2, 0, 1).unsqueeze(0).contiguous()
    grid = (image * 2 - 1).permute(0, 2, 3, 1).unsqueeze(1).contiguous()
    volume = lut.unsqueeze(0)
    for threads in sorted({1, cores}):
        torch.set_num_threads(threads)
        add("torch grid_sample", "float32 trilinear", threads,
            lambda: F.grid_sample(volume, grid, mode="bilinear", align_corners=True))  # fmt: skip
    torch.set_num_threads(cores)

    pillow_lut = ImageFilter.Color3DLUT(lut.shape[-1], pillow_table(lut))
    picture = Image.fromarray(photo)
    add("Pillow Color3DLUT", "uint8 trilinear", 1, lambda: picture.filter(pillow_lut))

    rows += ffmpeg_rows(photo, repeats, cores)
    rows += opencolorio_rows(photo32, repeats)
    return rows


def ffmpeg_rows(photo: np.ndarray, repeats: int, cores: int) -> list[dict]:
    """ffmpeg's lut3d filter on raw RGB frames of the photo; the time of the same command with
    a null filter (reading and decoding the frames) is taken off."""
    if shutil.which("ffmpeg") is None:
        print("  ffmpeg not found: skipped", file=sys.stderr)
        return []
    frames = 5
    megapixels = frames * photo.shape[0] * photo.shape[1] / 1e6
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        raw = Path(folder) / "photo.rgb"
        raw.write_bytes(photo.tobytes() * frames)
        height, width = photo.shape[:2]

        def command(video_filter: str, threads: int) -> list[str]:
            return [
                "ffmpeg", "-v", "error", "-f", "rawvideo", "-pix_fmt", "rgb24",
                "-s", f"{width}x{height}", "-i", str(raw), "-filter_threads", str(threads),
                "-vf", video_filter, "-f", "null", "-",
            ]  # fmt: skip

        for threads in sorted({1, cores}):
            lut3d = f"lut3d=file='{LUT_PATH}':interp=trilinear"
            seconds = best_seconds(
                lambda t=threads, f=lut3d: subprocess.run(command(f, t), check=True), repeats
            )
            baseline = best_seconds(
                lambda t=threads: subprocess.run(command("null", t), check=True), repeats
            )
            rate = megapixels / max(seconds - baseline, 1e-6)
            rows.append(
                {
                    "tool": "ffmpeg lut3d",
                    "variant": "uint8 trilinear",
                    "threads": threads,
                    "mp_per_s": rate,
                }
            )
            print(f"  ffmpeg lut3d x{threads}: {rate:.1f} MP/s", file=sys.stderr)
    return rows


def opencolorio_rows(photo32: np.ndarray, repeats: int) -> list[dict]:
    """OpenColorIO's CPU processor for the .cube file, on float32 RGB (its native format)."""
    try:
        import PyOpenColorIO as ocio
    except ImportError:
        print("  OpenColorIO not installed: skipped", file=sys.stderr)
        return []
    config = ocio.Config.CreateRaw()
    transform = ocio.FileTransform(str(LUT_PATH), interpolation=ocio.INTERP_LINEAR)
    processor = config.getProcessor(transform).getDefaultCPUProcessor()
    buffer = photo32.copy()
    seconds = best_seconds(lambda: processor.applyRGB(buffer), repeats)
    rate = photo32.shape[0] * photo32.shape[1] / 1e6 / seconds
    print(f"  OpenColorIO: {rate:.1f} MP/s", file=sys.stderr)
    return [{"tool": "OpenColorIO", "variant": "float32 trilinear", "threads": 1, "mp_per_s": rate}]


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
    out what a tool pays once per run (lutcli's start, with torch; a process pool's start)."""
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

    lutcli = str(Path(sys.executable).parent / "lutcli")

    def run_lutcli(folder: Path) -> None:
        quality = str(JPEG_QUALITY)
        command = [lutcli, "apply", str(folder), str(fresh()), "--cube", str(LUT_PATH), "-q"]
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

    ways = [("lutcli apply", run_lutcli), ("Pillow process pool", run_pillow)]
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


def print_tables(results: dict) -> None:
    """The Markdown tables of the README."""
    print(f"Machine: {results['machine']}\n")
    if "apply" in results:
        rows = results["apply"]
        print("| apply one 12 MP photo | threads | MP/s |\n|---|---|---|")
        for row in rows:
            print(
                f"| {row['tool']} ({row['variant']}) | {row['threads']} | {row['mp_per_s']:.1f} |"
            )
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
        print(f"| folder of 12 MP JPEGs | images/s | vs Pillow pool | wall time, {count} images |")
        print("|---|---|---|---|")
        for row in rows:
            times = ratio(rows, "images_per_s", row["tool"], "Pillow process pool")
            line = f"| {row['tool']} | {row['images_per_s']:.2f} | {times:.2f}× "
            print(line + f"| {row['seconds']:.1f} s |")
        print()
    if "gpu" in results:
        print(f"| on {results['gpu_name']} | 4K photo (ms) | training pass (ms) |")
        print("|---|---|---|")
        for row in results["gpu"]:
            print(f"| {row['tool']} | {row['apply_4k_ms']:.2f} | {row['training_ms']:.2f} |")
        print()
    for line in results["ratios"]:
        print(f"- {line}")


def summary_ratios(results: dict, cores: int) -> list[str]:
    """The ratios the speed goals are stated in."""
    lines = []
    apply_rows_ = results.get("apply", [])
    one = [r for r in apply_rows_ if r["threads"] == 1]
    mine = next(
        (r for r in one if r["tool"] == "lutcli" and r["variant"] == "uint8 trilinear"), None
    )
    pillow = next((r for r in one if r["tool"] == "Pillow Color3DLUT"), None)
    if mine and pillow:
        lines.append(
            f"uint8 trilinear apply, one core: {mine['mp_per_s'] / pillow['mp_per_s']:.2f}× Pillow"
        )
    many = next(
        (
            r
            for r in apply_rows_
            if r["tool"] == "lutcli" and r["variant"] == "uint8 trilinear" and r["threads"] == cores
        ),
        None,
    )
    if mine and many and cores > 1:
        scaling = many["mp_per_s"] / mine["mp_per_s"]
        lines.append(f"uint8 trilinear apply, {cores} cores vs one: {scaling:.2f}×")
    if "training" in results:
        times = ratio(results["training"], "mp_per_s", "lutcli kernel", "torch grid_sample")
        lines.append(f"training forward + backward: {times:.2f}× grid_sample")
    if "folder" in results:
        times = ratio(results["folder"], "images_per_s", "lutcli apply", "Pillow process pool")
        lines.append(f"folder of JPEGs: {times:.2f}× the Pillow process pool")
    return lines


def main() -> None:
    """Run the chosen parts, print the tables, write the JSON."""
    args = parse_args()
    if not cpu.available():
        sys.exit("the compiled kernels are not built: run `make install` first")
    cores = cpu.cpu_count()
    parts = args.parts.split(",")
    results: dict = {"machine": describe(), "cores": cores}
    photo = mosaic(PHOTO_SIZE)
    if "apply" in parts:
        print("apply:", file=sys.stderr)
        results["apply"] = apply_rows(photo, args.repeats, cores)
    if "training" in parts:
        print("training:", file=sys.stderr)
        results["training"] = training_rows(args.repeats, cores)
    if "folder" in parts:
        print("folder:", file=sys.stderr)
        results["folder"] = folder_rows(photo, args.folder_images, args.work, args.repeats, cores)
    if "gpu" in parts and torch.cuda.is_available():
        print(f"gpu ({torch.cuda.get_device_name()}):", file=sys.stderr)
        results["gpu"] = gpu_rows(args.repeats)
        results["gpu_name"] = torch.cuda.get_device_name()
    results["ratios"] = summary_ratios(results, cores)
    print_tables(results)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(results, indent=2) + "\n")
    print(f"\nwrote {args.json}", file=sys.stderr)


if __name__ == "__main__":
    main()
