"""How clips are graded: plain data, importable without torch (the CLI reads its defaults here)."""

from __future__ import annotations

from dataclasses import dataclass, field

# Constant-rate-factor encoders and the factor they get unless --crf says otherwise: about as
# good as the eye can tell (x264's own default, 23, softens graded footage visibly).
DEFAULT_CRF = {"libx264": 18, "libx265": 20, "libvpx-vp9": 24, "libvpx": 10, "libsvtav1": 24}
# The time constant of an adaptive look's smoothing unless the user gives one: a look settles
# in about a second (three time constants), slower than flicker and faster than a viewer
# notices a drift.
DEFAULT_TEMPORAL_SMOOTHING = 0.3
# Frames that training and distillation take from each clip unless --frames says otherwise:
# spread evenly, enough to cover a clip's shots without one clip outweighing many photos.
DEFAULT_CLIP_FRAMES = 30


@dataclass(frozen=True)
class EncodingSettings:
    """How a clip's video is encoded: ``crf`` (quality for H.264, H.265, VP9, AV1; lower is
    better; None: the encoder's DEFAULT_CRF) or ``bitrate`` (bits per second, instead)."""

    crf: int | None = None
    bitrate: int | None = None


@dataclass(frozen=True)
class ClipSettings:
    """How clips are graded: their video's encoding, the time constant in seconds of an
    adaptive look's temporal smoothing (``lutcli.video.TemporalSmoothing``), and whether an
    interrupted clip leaves what it graded as a playable ``NAME.partial.EXT``."""

    encoding: EncodingSettings = field(default_factory=EncodingSettings)
    temporal_smoothing: float = DEFAULT_TEMPORAL_SMOOTHING
    keep_partial: bool = False


DEFAULT_CLIP_SETTINGS = ClipSettings()
