"""Training options: plain data, importable without torch (the CLI reads its defaults here)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class TrainingOptions:
    """How to train; every field is a ``lutcli train`` option of the same name."""

    epochs: int = 100
    batch_size: int = 4
    crop_size: int = 256
    learning_rate: float | None = None  # None: the model's own default
    smoothness_weight: float = 1e-4
    monotonicity_weight: float = 10.0
    validation_fraction: float = 0.1
    # At most this many pairs are held out, however large the folder (None: no limit).
    validation_pairs: int | None = 500
    patience: int = 20
    # An epoch counts as progress for ``patience`` (and ``first_stage_patience``) when it raises
    # validation PSNR by at least this many dB: a long tail of smaller gains (a plateau) ends the
    # run instead of holding it up. The best model is kept whatever the gain.
    min_improvement: float = 0.1
    seed: int = 0
    # Pictures are prepared with their short side shrunk to this many pixels (None: full size,
    # the default: shrinking blends colors across edges, which cost 3-5 dB on the sample job;
    # 480 is how the field trains on FiveK, for speed).
    resolution: int | None = None
    # Processes that read crops ahead of the training step (0: read in the training process).
    workers: int = 2
    # Also save the resumable state every this many steps (0: only after every epoch).
    checkpoint_every: int = 0
    # On a GPU, the picture networks' convolutions train in bfloat16 (LUTs stay float32).
    mixed_precision: bool = True
    warm_start: bool = True
    # Staged models (product combinations) train their derived part alone first, for at most
    # this many epochs, or until its validation PSNR stalls this many epochs; then everything.
    first_stage_epochs: int = 10
    first_stage_patience: int = 5
    # Training pixels the warm start solves for (a random subset beyond this bounds memory).
    warm_start_pixels: int = 8_000_000
    # The training pyramid (SPEC "multi-scale model"): the model also learns at these integer
    # down-sampling factors, one scale a step in turn, and keeps them to choose its LUT at the
    # coarsest (lutcli.training.multiscale). Empty: full size only.
    scales: tuple[int, ...] = field(default_factory=tuple)
