"""Clips made in code with FFmpeg's libraries (PyAV): pans across real photos, a cut between two
of them, a sine tone for audio, at 8 or 10 bits, tagged as asked."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from skimage import data

from lutcli.io.video import read_frames

RATE = 25


def pan(photo: np.ndarray, frames: int, height: int = 96, width: int = 128, step: int = 1):
    """Windows of ``height`` x ``width`` moving ``step`` pixels right each frame across
    ``photo``, from its top-left quarter: a slow pan, where most pixels barely change."""
    top, left = photo.shape[0] // 4, photo.shape[1] // 4
    return [
        photo[top : top + height, left + i * step : left + i * step + width] for i in range(frames)
    ]


def pan_then_cut(frames_each: int = 25, height: int = 96, width: int = 128) -> list[np.ndarray]:
    """A pan across the astronaut, then a cut to a pan across the coffee cup."""
    first = pan(data.astronaut(), frames_each, height, width)
    second = pan(data.coffee(), frames_each, height, width)
    return first + second


def write_clip(
    path: Path,
    frames: list[np.ndarray],
    codec: str = "libx264",
    pixel_format: str = "yuv420p",
    audio: bool = True,
    rotation: int = 0,
    full_range: bool = False,
    options: dict[str, str] | None = None,
) -> Path:
    """``frames`` (RGB uint8) encoded at RATE frames/s, with a 440 Hz tone (AAC in mp4, PCM in
    mov and mkv) as long as the video, BT.709-tagged (full range when asked)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), mode="w") as container:
        video = container.add_stream(codec, rate=RATE)
        video.width, video.height = frames[0].shape[1], frames[0].shape[0]
        video.pix_fmt = pixel_format
        video.codec_context.colorspace = 1  # BT.709
        video.codec_context.color_primaries = 1
        video.codec_context.color_trc = 1
        video.codec_context.color_range = 2 if full_range else 1
        video.options = options or ({"crf": "16"} if codec.startswith("libx26") else {})
        if rotation:
            video.set_display_rotation(rotation)
        sound = None
        if audio:
            sound_codec = "aac" if path.suffix == ".mp4" else "pcm_s16le"
            sound = container.add_stream(sound_codec, rate=48_000, layout="mono")
        for index, pixels in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(pixels), format="rgb24")
            frame = frame.reformat(
                format=pixel_format, dst_colorspace=1, dst_color_range=2 if full_range else 1
            )
            frame.pts = index
            frame.time_base = Fraction(1, RATE)
            container.mux(video.encode(frame))
        container.mux(video.encode(None))
        if sound is not None:
            _write_tone(container, sound, len(frames) / RATE)
    return path


def _write_tone(container, stream, seconds: float) -> None:
    samples = round(seconds * 48_000)
    tone = (0.3 * np.sin(2 * np.pi * 440 * np.arange(samples) / 48_000) * 32767).astype(np.int16)
    chunk = 1024
    for start in range(0, samples, chunk):
        frame = av.AudioFrame.from_ndarray(tone[None, start : start + chunk], "s16", "mono")
        frame.sample_rate = 48_000
        frame.pts = start
        frame.time_base = Fraction(1, 48_000)
        container.mux(stream.encode(frame))
    container.mux(stream.encode(None))


def decoded(path: Path) -> list[np.ndarray]:
    """Every frame of the clip at ``path`` as RGB pixels."""
    return [frame.pixels for frame in read_frames(path, 1 << 30)]


def mean_levels(first: list[np.ndarray], second: list[np.ndarray]) -> float:
    """Mean absolute difference of two clips' frames (of one integer type), in 8-bit levels."""
    scale = 255 / np.iinfo(first[0].dtype).max
    differences = [
        np.abs(a.astype(np.int32) - b).mean() for a, b in zip(first, second, strict=True)
    ]
    return float(np.mean(differences)) * scale


def packets(path: Path, kind: str) -> list[bytes]:
    """The bytes of every packet of the clip's first stream of ``kind`` ("audio", ...)."""
    with av.open(str(path)) as container:
        stream = next(s for s in container.streams if s.type == kind)
        return [bytes(p) for p in container.demux(stream) if p.size]


def stream_info(path: Path) -> dict:
    """What a player sees of the clip's video: codec, pixel format, tags, frames, duration,
    rotation, timestamps."""
    with av.open(str(path)) as container:
        video = container.streams.video[0]
        context = video.codec_context
        frames = list(container.decode(video))
        return {
            "codec": context.name,
            "pixel_format": context.pix_fmt,
            "colorspace": context.colorspace,
            "color_range": context.color_range,
            "color_primaries": context.color_primaries,
            "color_trc": context.color_trc,
            "frames": len(frames),
            "times": [round(float(f.time), 4) for f in frames],
            "rotation": frames[0].rotation,
            "streams": sorted(s.type for s in container.streams),
            "profile": video.profile,
        }
