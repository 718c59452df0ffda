"""Grading clips: lutcli against ffmpeg doing the same job, and flicker with and without temporal
smoothing, in one run (``make bench``).

Speed: one clip per size (1080p, 4K; H.264 at CRF 18, a slow pan across a mosaic of the sample
photos) graded with the 33³ ``film`` preset and re-encoded with libx264 at CRF 18, preset
medium: ``ffmpeg -vf lut3d`` against ``lutcli apply`` (the command, start-up included, and the
library call), in frames per second; beside them what the same job costs without any LUT
(ffmpeg and lutcli re-encoding alone, ffmpeg decoding alone) and where lutcli's time goes
(decoding with the conversion to RGB, the LUT, the whole job, whose conversion back and encoding
run beside the next frames' decoding and LUT). Then an image-adaptive model (the ``auto``
preset) on the 1080p clip.

Flicker: a clip of three shots (slow pans and a zoom across sample photos, H.264 at CRF 23, so
with a codec's noise) graded by the ``auto`` preset, every frame with its own LUT against the
LUTs smoothed over time: the frame-to-frame change of the output where the input barely changes,
and how far the smoothed output is from every frame's own LUT (after each cut, and overall).

    .venv/bin/python bench/video.py                    # about 5 minutes on 2 cores
    .venv/bin/python bench/video.py --parts flicker
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
from machine import LUTCLI, compile_lutcli, describe
from speed import best_seconds, mosaic

from lutcli.clip_settings import ClipSettings
from lutcli.io.video import Frame, read_frames, transcode
from lutcli.kernels import cpu
from lutcli.looks import open_look
from lutcli.presets import find_preset
from lutcli.samples import sample_photos
from lutcli.video import TemporalSmoothing, process_clip, steady_flicker

ROOT = Path(__file__).resolve().parent.parent
LUT_PATH = ROOT / "presets" / "film.cube"
SIZES = {"1080p": ((1080, 1920), 96), "4K": ((2160, 3840), 48)}  # (height, width), frames
RATE = 24
REPEATS = 2  # timed runs of each way after a warm-up; the fastest counts
PARTS = ("speed", "flicker")
TIME_CONSTANTS = (0.0, 0.1, 0.3, 1.0)


def parse_args() -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", type=Path, default=Path("bench-output/video.json"))
    parser.add_argument("--work", type=Path, default=Path("bench-output/video"))
    parser.add_argument(
        "--parts", default=",".join(PARTS), help="comma-separated: " + ", ".join(PARTS)
    )
    parser.add_argument("--sizes", default=",".join(SIZES), help="comma-separated sizes")
    return parser.parse_args()


def write_clip(path: Path, frames, crf: int) -> Path:
    """RGB ``frames`` (an iterable) as H.264 at ``crf``, BT.709, RATE frames per second."""
    with av.open(str(path), mode="w") as container:
        stream = None
        for index, pixels in enumerate(frames):
            if stream is None:
                stream = container.add_stream("libx264", rate=RATE)
                stream.height, stream.width = pixels.shape[:2]
                stream.pix_fmt = "yuv420p"
                stream.codec_context.colorspace = stream.codec_context.color_primaries = 1
                stream.codec_context.color_trc = 1
                stream.codec_context.color_range = 1
                stream.options = {"crf": str(crf)}
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(pixels), format="rgb24")
            frame = frame.reformat(format="yuv420p", dst_colorspace=1, dst_color_range=1)
            frame.pts, frame.time_base = index, Fraction(1, RATE)
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return path


def pan_frames(photo: np.ndarray, size: tuple[int, int], frames: int, step: int = 2):
    """Windows of ``size`` sliding ``step`` pixels right each frame across ``photo``."""
    height, width = size
    for index in range(frames):
        left = index * step
        yield photo[:height, left : left + width]


def zoom_frames(photo: np.ndarray, size: tuple[int, int], frames: int):
    """A slow zoom into the middle of ``photo``, 0.2 % a frame, at ``size``."""
    height, width = size
    for index in range(frames):
        scale = 1 + 0.002 * index
        crop_h, crop_w = round(photo.shape[0] / scale), round(photo.shape[1] / scale)
        top, left = (photo.shape[0] - crop_h) // 2, (photo.shape[1] - crop_w) // 2
        window = photo[top : top + crop_h, left : left + crop_w]
        yield cv2.resize(window, (width, height), interpolation=cv2.INTER_AREA)


def command(arguments: list[str]) -> Callable[[], object]:
    """A call of the program ``arguments`` (it must succeed)."""
    return lambda: subprocess.run(arguments, check=True, stdout=subprocess.DEVNULL)


def x264(output: Path) -> list[str]:
    """ffmpeg's arguments for lutcli's default encoding: libx264, CRF 18, preset medium, and
    the source's pixel format (yuv420p), as lutcli keeps it: after a filter that works in RGB,
    such as lut3d, ffmpeg would otherwise choose 4:4:4, a third slower to encode."""
    return ["-c:v", "libx264", "-crf", "18", "-preset", "medium", "-pix_fmt", "yuv420p", "-an",
            str(output)]  # fmt: skip


def untouched(frame: Frame) -> np.ndarray:
    """A frame's pixels as they were decoded."""
    return frame.pixels


def transcode_to(out: Path, source: Path, grade: Callable[[Frame], np.ndarray]) -> None:
    """``source`` re-encoded into ``out`` with every frame through ``grade``."""
    with open(out, "wb") as handle:
        transcode(source, handle, ".mp4", grade)


def speed_rows(name: str, size: tuple[int, int], frames: int, work: Path) -> list[dict]:
    """Frames per second of each way to grade the clip of ``size``, and lutcli's breakdown."""
    source = work / f"pan-{name}.mp4"
    if not source.is_file():
        photo = mosaic((size[0] + 8, size[1] + 2 * frames + 8))
        write_clip(source, pan_frames(photo, size, frames), crf=18)
    out = work / f"graded-{name}.mp4"
    ffmpeg = ["ffmpeg", "-v", "error", "-y", "-i", str(source)]
    rows = []

    def row(tool: str, call: str, run: Callable[[], object]) -> None:
        seconds = best_seconds(run, REPEATS)
        rows.append({"size": name, "tool": tool, "call": call, "fps": frames / seconds})
        print(f"  {name} {tool}: {frames / seconds:.1f} frames/s", file=sys.stderr)

    def graded_by(look) -> Callable[[], object]:
        return lambda: process_clip(look, source, out, ClipSettings())

    def untouched_copy() -> None:
        transcode_to(out, source, untouched)

    lut3d = ffmpeg + ["-vf", f"lut3d=file='{LUT_PATH}'"] + x264(out)
    row("ffmpeg lut3d", " ".join(lut3d), command(lut3d))
    apply = [str(LUTCLI), "apply", str(source), str(out), "--lut", str(LUT_PATH)]
    apply += ["-q", "--overwrite"]
    row("lutcli apply", " ".join(apply), command(apply))
    look = open_look("lut", LUT_PATH)
    row("lutcli (library)", "lutcli.video.process_clip", graded_by(look))
    plain = ffmpeg + x264(out)
    row("ffmpeg re-encoding, no LUT", " ".join(plain), command(plain))
    row("lutcli re-encoding, no LUT (library)", "transcode", untouched_copy)
    decode = ffmpeg + ["-f", "null", "-"]
    row("ffmpeg decoding only", " ".join(decode), command(decode))
    # Where lutcli's time goes: decoding to RGB alone, then the whole job with the LUT timed
    # (encoding runs on its own thread, beside the decoding and the LUT of the next frames).
    start = time.perf_counter()
    for _ in read_frames(source, frames):
        pass
    decoding = time.perf_counter() - start
    lut_seconds = 0.0

    def grade(frame: Frame) -> np.ndarray:
        nonlocal lut_seconds
        began = time.perf_counter()
        look.apply(frame.pixels, out=frame.pixels)
        lut_seconds += time.perf_counter() - began
        return frame.pixels

    start = time.perf_counter()
    transcode_to(out, source, grade)
    total = time.perf_counter() - start
    rows.append(
        {
            "size": name,
            "tool": "lutcli breakdown",
            "decode_s": decoding,
            "lut_s": lut_seconds,
            "total_s": total,
            "frames": frames,
        }
    )
    if name == "1080p":
        adaptive = open_look("model", find_preset("auto").path)
        row("lutcli, adaptive (auto preset)", "process_clip(auto)", graded_by(adaptive))
    return rows


def flicker_clip(work: Path) -> Path:
    """Three shots of 48 frames at 640x360 with a cut between each: two pans and a zoom."""
    path = work / "shots.mp4"
    if path.is_file():
        return path
    photos = sample_photos()
    size = (360, 640)

    def enlarged(name: str) -> np.ndarray:
        photo = photos[name]
        scale = max(size[0] / photo.shape[0], (size[1] + 100) / photo.shape[1]) * 1.1
        return cv2.resize(photo, None, fx=scale, fy=scale, interpolation=cv2.INTER_CUBIC)

    shots = [
        pan_frames(enlarged("astronaut"), size, 48),
        zoom_frames(enlarged("coffee"), size, 48),
        pan_frames(enlarged("chelsea"), size, 48),
    ]
    return write_clip(path, (frame for shot in shots for frame in shot), crf=23)


def flicker_rows(work: Path) -> dict:
    """Flicker and distance from every frame's own LUT, for each time constant."""
    look = open_look("model", find_preset("auto").path)
    frames = list(read_frames(flicker_clip(work), 1 << 30))
    inputs = [frame.pixels for frame in frames]
    own = None
    rows = []
    for constant in TIME_CONSTANTS:
        smoothing = TemporalSmoothing(look, constant)
        graded = [smoothing.lut_for(f.pixels, f.seconds).apply(f.pixels) for f in frames]
        if own is None:  # the first time constant is 0: every frame's own LUT
            own = graded
        cut_frames = [round(seconds * RATE) for seconds in smoothing.cuts]
        after_cuts = [i for cut in cut_frames for i in range(cut, min(cut + RATE, len(frames)))]
        distance = [np.abs(g.astype(np.int32) - o).mean() for g, o in zip(graded, own, strict=True)]
        rows.append(
            {
                "time_constant": constant,
                "flicker": steady_flicker(inputs, graded),
                "distance_after_cuts": float(np.mean([distance[i] for i in after_cuts])),
                "distance": float(np.mean(distance)),
                "cuts": cut_frames,
            }
        )
        print(f"  {constant:.1f} s: {rows[-1]}", file=sys.stderr)
    return {"input_flicker": steady_flicker(inputs, inputs), "rows": rows}


def print_tables(results: dict) -> None:
    """The Markdown tables of the README."""
    print(f"Machine: {results['machine']}\n")
    if "speed" in results:
        print("| grading a clip (33³ LUT, libx264 CRF 18) | size | frames/s | vs ffmpeg lut3d |")
        print("|---|---|---:|---:|")
        for row in results["speed"]:
            if "fps" not in row:
                continue
            ffmpeg = next(
                r["fps"]
                for r in results["speed"]
                if r["size"] == row["size"] and r["tool"] == "ffmpeg lut3d"
            )
            print(
                f"| {row['tool']} | {row['size']} | {row['fps']:.1f} | {row['fps'] / ffmpeg:.2f}× |"
            )
        print("\n| lutcli's time per frame (ms) | size | decoding + RGB | LUT | the whole job |")
        print("|---|---|---:|---:|---:|")
        for row in results["speed"]:
            if "lut_s" in row:
                per = 1000 / row["frames"]
                print(
                    f"| lutcli (library) | {row['size']} | {row['decode_s'] * per:.1f} "
                    f"| {row['lut_s'] * per:.1f} | {row['total_s'] * per:.1f} |"
                )
        print("\nCalls:")
        for row in results["speed"]:
            if "call" in row:
                print(f"- {row['tool']} ({row['size']}): `{row['call']}`")
        print()
    if "flicker" in results:
        flicker = results["flicker"]
        print(f"Input's own frame-to-frame change: {flicker['input_flicker']:.3f} levels\n")
        print(
            "| --temporal-smoothing (s) | flicker (levels) | from every frame's own LUT, "
            "first second after a cut (levels) | overall (levels) |"
        )
        print("|---:|---:|---:|---:|")
        for row in flicker["rows"]:
            print(
                f"| {row['time_constant']:.1f} | {row['flicker']:.3f} "
                f"| {row['distance_after_cuts']:.2f} | {row['distance']:.2f} |"
            )
        print(f"\nCuts found at frames {flicker['rows'][0]['cuts']} (true: 48, 96)")


def main() -> None:
    """Run the chosen parts, print the tables, write the JSON."""
    args = parse_args()
    if not cpu.available():
        sys.exit("the compiled kernels are not built: run `make install` first")
    if shutil.which("ffmpeg") is None:
        sys.exit("ffmpeg is needed for the comparison: apt-get install ffmpeg")
    compile_lutcli()
    parts = args.parts.split(",")
    args.work.mkdir(parents=True, exist_ok=True)
    results: dict = {"machine": describe(), "pyav": av.__version__, "cores": os.cpu_count()}
    if "speed" in parts:
        print("speed:", file=sys.stderr)
        results["speed"] = []
        for name in args.sizes.split(","):
            size, frames = SIZES[name]
            results["speed"] += speed_rows(name, size, frames, args.work)
    if "flicker" in parts:
        print("flicker:", file=sys.stderr)
        results["flicker"] = flicker_rows(args.work)
    print_tables(results)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(results, indent=2) + "\n")
    print(f"\nwrote {args.json}", file=sys.stderr)


if __name__ == "__main__":
    main()
