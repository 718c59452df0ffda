"""Reading and writing clips through FFmpeg's libraries (PyAV).

A clip is re-encoded frame by frame: each video frame is decoded, converted to RGB with the
clip's own matrix and range (8-bit sources to 8-bit RGB, deeper ones to 16-bit RGB), handed to
the caller, converted back and encoded with the same codec family, pixel format, timestamps,
rotation and colour tags. Audio, subtitle and data streams are copied packet for packet.
Encoding runs on its own thread, beside the decoding and grading of the next frames; a few
frames (plus what the codecs buffer) are in memory at a time, whatever the clip's length.

A clip whose matrix is not tagged is converted with BT.601, as FFmpeg's scaler does (and so
``ffmpeg -vf lut3d``); its output stays untagged, and an identity look gives back the frames.
"""

from __future__ import annotations

import os
import queue
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from fractions import Fraction
from typing import BinaryIO

import numpy as np

from lutcli.clip_settings import DEFAULT_CLIP_SETTINGS, DEFAULT_CRF, EncodingSettings
from lutcli.errors import ImageReadError, LutcliError

VIDEO_EXTENSIONS: frozenset[str] = frozenset({".mp4", ".m4v", ".mov", ".mkv", ".webm"})
# The container FFmpeg writes for each extension.
_CONTAINERS = {".mp4": "mp4", ".m4v": "mp4", ".mov": "mov", ".mkv": "matroska", ".webm": "webm"}
# The encoder of each decoded codec family, tried first for its output.
_ENCODERS = {
    "h264": "libx264",
    "hevc": "libx265",
    "prores": "prores_ks",
    "vp9": "libvpx-vp9",
    "vp8": "libvpx",
    "av1": "libsvtav1",
    "mpeg4": "mpeg4",
    "mjpeg": "mjpeg",
    "ffv1": "ffv1",
}
# FFmpeg's colour range values: 1 tv (limited, 16-235), 2 pc (full, 0-255).
_FULL_RANGE = 2
# FFmpeg's names of the colour tags' values (libavutil/pixfmt.h); 2 is "unspecified" in each.
_UNSPECIFIED = 2
_MATRICES = {0: "gbr", 1: "bt709", 4: "fcc", 5: "bt470bg", 6: "smpte170m", 7: "smpte240m",
             8: "ycgco", 9: "bt2020nc", 10: "bt2020c"}  # fmt: skip
_PRIMARIES = {1: "bt709", 4: "bt470m", 5: "bt470bg", 6: "smpte170m", 7: "smpte240m", 8: "film",
              9: "bt2020", 10: "smpte428", 11: "smpte431", 12: "smpte432"}  # fmt: skip
_TRANSFERS = {1: "bt709", 4: "gamma22", 5: "gamma28", 6: "smpte170m", 7: "smpte240m",
              8: "linear", 13: "iec61966-2-1", 14: "bt2020-10", 15: "bt2020-12",
              16: "smpte2084", 18: "arib-std-b67"}  # fmt: skip


@dataclass(frozen=True)
class ClipInfo:
    """What a clip's video stream is: size, frames, rate, codec, pixel format and tags."""

    width: int
    height: int
    frames: int  # as the container counts them (an estimate from the duration when it does not)
    frame_rate: Fraction | None
    codec: str
    pixel_format: str
    bit_depth: int
    colorspace: int
    color_range: int
    color_primaries: int
    color_trc: int
    streams: dict[str, int] = field(default_factory=dict)  # other streams, by type


def _open_input(path: str | os.PathLike):
    import av

    try:
        container = av.open(os.fspath(path), mode="r")
    except av.FFmpegError as error:
        raise ImageReadError(f"cannot read the clip '{path}': {_reason(error)}") from None
    if not container.streams.video:
        container.close()
        raise ImageReadError(f"'{path}' has no video stream")
    return container


def _reason(error: Exception) -> str:
    """An FFmpeg error in a few words, without the file name PyAV appends."""
    text = getattr(error, "strerror", None) or str(error)
    return text[:1].lower() + text[1:]


def _info(container) -> ClipInfo:
    stream = container.streams.video[0]
    context = stream.codec_context
    frames = stream.frames
    if not frames and stream.average_rate:  # Matroska and WebM keep no count: from the duration
        if stream.duration:
            seconds = float(stream.duration * stream.time_base)
        else:
            seconds = (container.duration or 0) / 1_000_000  # in AV_TIME_BASE units
        frames = round(seconds * float(stream.average_rate))
    others: dict[str, int] = {}
    for other in container.streams:
        if other is not stream:
            others[other.type] = others.get(other.type, 0) + 1
    pixel_format = context.format
    return ClipInfo(
        width=context.width,
        height=context.height,
        frames=frames or 0,
        frame_rate=stream.average_rate,
        codec=context.name,
        pixel_format=pixel_format.name if pixel_format else "unknown",
        bit_depth=max((c.bits for c in pixel_format.components), default=8) if pixel_format else 8,
        colorspace=context.colorspace,
        color_range=context.color_range,
        color_primaries=context.color_primaries,
        color_trc=context.color_trc,
        streams=others,
    )


def color_names(info: ClipInfo) -> dict[str, str]:
    """The clip's colour tags by FFmpeg's names (as ffprobe prints them), "unknown" where the
    clip has none."""

    def name(names: dict[int, str], value: int) -> str:
        return names.get(value, "unknown" if value == _UNSPECIFIED else str(value))

    return {
        "matrix": name(_MATRICES, info.colorspace),
        "range": {1: "limited (tv)", 2: "full (pc)"}.get(info.color_range, "unknown"),
        "primaries": name(_PRIMARIES, info.color_primaries),
        "transfer": name(_TRANSFERS, info.color_trc),
    }


def probe(path: str | os.PathLike) -> ClipInfo:
    """The video stream of the clip at ``path``, from its headers."""
    with _open_input(path) as container:
        return _info(container)


@dataclass
class Frame:
    """A decoded frame as RGB pixels (H, W, 3), uint8 for 8-bit clips and uint16 for deeper
    ones, and when it is shown, in seconds from the clip's start."""

    pixels: np.ndarray
    seconds: float


def _conversion_flags():
    """FFmpeg's scaler flags for YUV <-> RGB: exact rounding and chroma at full resolution.
    Its default fast path moves luma by about a level on a round trip; these by 0.03."""
    from av.video.reformatter import Interpolation

    return (
        Interpolation.BICUBIC
        | Interpolation.ACCURATE_RND
        | Interpolation.FULL_CHR_H_INT
        | Interpolation.FULL_CHR_H_INP
    )


def _rgb_format(bit_depth: int) -> str:
    return "rgb24" if bit_depth <= 8 else "rgb48le"


def _reformat_to_rgb(frame, rgb_format: str):
    """A decoded frame converted to RGB with its own matrix and range: a new frame, whose
    memory is the caller's to change (the decoder may still read the decoded frame's)."""
    from av.video.reformatter import ColorRange

    source_range = ColorRange.JPEG if frame.color_range == _FULL_RANGE else ColorRange.MPEG
    rgb = frame.reformat(
        format=rgb_format,
        src_colorspace=frame.colorspace or None,
        src_color_range=source_range,
        dst_color_range=ColorRange.JPEG,
        interpolation=_conversion_flags(),
    )
    if rgb is frame:  # decoded as RGB already: reformat hands the frame itself back
        import av

        rgb = av.VideoFrame.from_ndarray(frame.to_ndarray(), format=rgb_format)
    return rgb


def _to_rgb(frame, rgb_format: str) -> np.ndarray:
    """A decoded frame's pixels as RGB, converted with its own matrix and range."""
    return _reformat_to_rgb(frame, rgb_format).to_ndarray()


def _pixels_of(rgb) -> np.ndarray:
    """The pixels (H, W, 3) of an RGB frame as a view of its memory (rows may be padded)."""
    plane = rgb.planes[0]
    dtype = np.dtype(np.uint8 if rgb.format.name == "rgb24" else "<u2")
    strides = (plane.line_size, 3 * dtype.itemsize, dtype.itemsize)
    return np.ndarray((rgb.height, rgb.width, 3), dtype, buffer=plane, strides=strides)


def read_frames(path: str | os.PathLike, count: int) -> Iterator[Frame]:
    """``count`` frames spread evenly over the clip (all of them when it has fewer), in order:
    how a clip is used as photos (training pairs, a teacher's inputs)."""
    import av

    with _open_input(path) as container:
        info = _info(container)
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        total = max(1, info.frames)
        wanted = {round(i * total / count) for i in range(count)} if count < total else None
        rgb_format = _rgb_format(info.bit_depth)
        try:
            for index, frame in enumerate(container.decode(stream)):
                if wanted is None or index in wanted:
                    yield Frame(_to_rgb(frame, rgb_format), _seconds(frame, index, info))
        except av.FFmpegError as error:
            raise ImageReadError(f"cannot decode the clip '{path}': {_reason(error)}") from None


def _seconds(frame, index: int, info: ClipInfo) -> float:
    """When a decoded frame is shown: its timestamp, or from its place and the frame rate for
    a stream without timestamps."""
    if frame.time is not None:
        return float(frame.time)
    return index / float(info.frame_rate) if info.frame_rate else float(index)


def transcode(
    source: str | os.PathLike,
    destination: BinaryIO,
    extension: str,
    grade: Callable[[Frame], np.ndarray],
    settings: EncodingSettings = DEFAULT_CLIP_SETTINGS.encoding,
    on_frame: Callable[[int, int], None] = lambda done, total: None,
    finish_on_interrupt: bool = False,
) -> list[str]:
    """Write the clip ``source`` to ``destination`` (a seekable binary file, in the container of
    ``extension``) with every frame's pixels replaced by ``grade(frame)`` (same shape and type;
    it may change the frame's pixels in place and return them). ``on_frame(done, total)``
    follows each frame. Returns notes for the user (streams left out, a codec changed).

    With ``finish_on_interrupt``, a KeyboardInterrupt first ends the file properly (the frames
    encoded so far, the container's index), so that what was written plays, then goes on.
    """
    import av

    container_name = _CONTAINERS.get(extension.lower())
    if container_name is None:
        known = ", ".join(sorted(_CONTAINERS))
        raise LutcliError(f"cannot write a clip as '{extension}' ({known})")
    notes: list[str] = []
    with _open_input(source) as reader:
        info = _info(reader)
        video = reader.streams.video[0]
        video.thread_type = "AUTO"
        with av.open(destination, mode="w", format=container_name) as writer:
            encoder = _video_stream(writer, video, info, settings, notes)
            copied = _copy_streams(reader, writer, video, notes)
            rotation = _rotation(source)
            if rotation:  # before anything is written: the header holds it
                encoder.set_display_rotation(rotation)
            rgb_format = _rgb_format(info.bit_depth)
            output = _Encoding(writer, encoder)
            done = 0
            try:
                for packet in reader.demux(video, *copied):
                    if packet.stream is video:
                        for frame in packet.decode():
                            # Graded in the RGB frame's own memory where its rows are
                            # not padded (a LUT applied in place then copies nothing), and
                            # converted back from that frame, which knows the source's
                            # chroma siting.
                            rgb = _reformat_to_rgb(frame, rgb_format)
                            view = _pixels_of(rgb)
                            pixels = view if view.flags.c_contiguous else view.copy()
                            graded = grade(Frame(pixels, _seconds(frame, done, info)))
                            if graded is not view:
                                view[...] = graded
                            output.put((frame, rgb))
                            done += 1
                            on_frame(done, info.frames)
                    elif packet.dts is not None:  # not a demuxer's end-of-stream marker
                        packet.stream = copied[packet.stream]
                        output.put(packet)
                output.close(flush=True)
            except KeyboardInterrupt:
                # Closing the container then writes its index: what was encoded plays.
                output.close(flush=finish_on_interrupt)
                raise
            except av.FFmpegError as error:
                raise ImageReadError(f"cannot transcode '{source}': {_reason(error)}") from None
            finally:
                output.close(flush=False)  # whatever went wrong: the thread ends here
    return notes


# Graded frames that may wait for the encoder: what the overlap of grading and encoding costs
# in memory (a few frames), whatever the clip's length.
_FRAMES_AHEAD = 2


class _Encoding:
    """The output side of a transcode on a thread of its own: graded frames converted back and
    encoded, and the other streams' packets muxed, in the order they are put. FFmpeg's
    conversion and encoder release the GIL, so they run while the next frames are decoded and
    graded: with frames graded in their own memory, it took 1080p on 2 cores from about 17 to
    20 frames a second (bench/video.py)."""

    def __init__(self, writer, encoder) -> None:
        self._writer, self._encoder = writer, encoder
        self._queue: queue.Queue = queue.Queue(maxsize=_FRAMES_AHEAD)
        self._failure: BaseException | None = None
        self._abandoned = False
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="lutcli-encoding", daemon=True)
        self._thread.start()

    def put(self, item) -> None:
        """Queue a (decoded frame, graded RGB frame) pair, or a packet to copy; raise
        what failed on the thread so far."""
        self._raise_failure()
        self._queue.put(item)

    def close(self, flush: bool) -> None:
        """End the thread: with ``flush``, once what is queued and the frames the encoder holds
        back are written (then raise what failed); without, dropping what is queued. Calling it
        again, or after an interrupt during a call, finishes the job."""
        if not self._closed:
            self._abandoned = not flush
            self._queue.put(None)
            self._closed = True
        self._thread.join()
        if flush:
            self._raise_failure()

    def _raise_failure(self) -> None:
        if self._failure is not None:
            raise self._failure

    def _run(self) -> None:
        while (item := self._queue.get()) is not None:
            self._write(item)
        self._write(None)

    def _write(self, item) -> None:
        if self._failure is not None or self._abandoned:
            return  # the rest is dropped: nothing more is written after a failure
        try:
            if item is None:  # the end: the frames the encoder held back
                self._writer.mux(self._encoder.encode(None))
            elif isinstance(item, tuple):
                decoded, graded = item
                frame = _from_rgb(graded, decoded, self._encoder)
                self._writer.mux(self._encoder.encode(frame))
            else:
                self._writer.mux(item)
        except BaseException as error:  # raised on the caller's thread by put or close
            self._failure = error


def _rotation(path: str | os.PathLike) -> int:
    """How far a player turns the clip's pictures (degrees counter-clockwise), from the display
    matrix that FFmpeg hands with the first decoded frame."""
    with _open_input(path) as container:
        for frame in container.decode(container.streams.video[0]):
            return frame.rotation
    return 0


def _from_rgb(rgb, decoded, encoder):
    """A graded RGB frame as a frame of the encoder's pixel format, with the decoded frame's
    matrix, range, tags and timestamp."""
    from av.video.reformatter import ColorRange

    context = encoder.codec_context
    target_range = ColorRange.JPEG if context.color_range == _FULL_RANGE else ColorRange.MPEG
    frame = rgb.reformat(
        format=context.pix_fmt,
        dst_colorspace=decoded.colorspace or None,
        src_color_range=ColorRange.JPEG,
        dst_color_range=target_range,
        interpolation=_conversion_flags(),
    )
    frame.pts = decoded.pts
    frame.time_base = decoded.time_base
    frame.color_range = decoded.color_range
    frame.colorspace = decoded.colorspace
    frame.color_primaries = decoded.color_primaries
    frame.color_trc = decoded.color_trc
    return frame


def _video_stream(writer, video, info: ClipInfo, settings: EncodingSettings, notes: list[str]):
    """The output's video stream: the source's codec family where the container holds it,
    its pixel format where the encoder has it, its rate, time base and colour tags."""
    import av

    wanted = _ENCODERS.get(info.codec, info.codec)
    candidates = [wanted, writer.default_video_codec]
    name = next(
        (c for c in candidates if c in av.codecs_available and _holds(writer, c)),
        writer.default_video_codec,
    )
    if name != wanted:
        notes.append(
            f"{info.codec} video cannot be written to this container here: encoded as "
            f"{av.Codec(name, 'w').canonical_name}"
        )
    stream = writer.add_stream(name, rate=video.average_rate or video.guessed_rate)
    context = stream.codec_context
    context.width, context.height = info.width, info.height
    context.pix_fmt = _pixel_format(av.Codec(name, "w"), info)
    stream.time_base = video.time_base
    context.time_base = video.time_base
    if video.sample_aspect_ratio:
        context.sample_aspect_ratio = video.sample_aspect_ratio
    context.color_range = info.color_range
    context.colorspace = info.colorspace
    context.color_primaries = info.color_primaries
    context.color_trc = info.color_trc
    context.thread_type = "AUTO"
    options = {}
    if settings.bitrate is not None:
        context.bit_rate = settings.bitrate
    elif name in DEFAULT_CRF:
        options["crf"] = str(settings.crf if settings.crf is not None else DEFAULT_CRF[name])
        if name.startswith("libvpx"):
            options["b"] = "0"  # constant quality, no bitrate cap
    if name == "prores_ks" and video.profile:
        profiles = {p.lower(): p for p in context.profiles}
        kept = profiles.get(video.profile.lower().split()[-1])
        if kept is not None:
            stream.profile = kept
    context.options = options
    return stream


def _holds(writer, codec_name: str) -> bool:
    """Whether the output container can hold the codec of the encoder ``codec_name``."""
    import av

    return av.Codec(codec_name, "w").name in writer.supported_codecs


def _pixel_format(codec, info: ClipInfo) -> str:
    """The source's pixel format if the encoder has it, else the encoder's closest one: the
    same bit depth first, then the same chroma layout."""
    formats = [f.name for f in codec.video_formats or []]
    if info.pixel_format in formats or not formats:
        return info.pixel_format
    import av

    def distance(name: str) -> tuple[int, int]:
        candidate = av.VideoFormat(name)
        depth = max(c.bits for c in candidate.components)
        return abs(depth - info.bit_depth), 0 if name[:6] == info.pixel_format[:6] else 1

    return min(formats, key=distance)


def _copy_streams(reader, writer, video, notes: list[str]) -> dict:
    """Output streams for the source's audio, subtitle and data streams, packets copied as
    they are; a stream the output container cannot hold is left out with a note."""
    import av

    copied = {}
    for stream in reader.streams:
        if stream is video or stream.type not in ("audio", "subtitle", "data", "video"):
            continue
        if stream.type == "video":  # a second picture stream (a cover, an angle): not graded
            notes.append(f"left out video stream {stream.index}: only the first is graded")
            continue
        try:
            copied[stream] = writer.add_stream_from_template(stream)
        except (av.FFmpegError, ValueError) as error:
            notes.append(f"left out {stream.type} stream {stream.index}: {_reason(error)}")
    return copied
