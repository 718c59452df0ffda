"""The adaptive jobs the zoo's benchmarks run on, in two sizes.

Each job (``lutcli.samples.CORRECTIONS``: three real tools' per-photo corrections and one global
look) is reframed, mis-colored copies of seven photos to train on and 16 copies of each of three
other photos to measure on (``lutcli.samples.write_adaptive_job``):

- ``user``: 10 copies of each photo up to 768 px on their long side (70 training pairs of
  0.03–0.56 MP, as a user brings a folder of small photos), measured at 384 px;
- ``sample``: 128 copies of each at 128 px (896 pairs), measured at 192 px: the sample job of
  the tests, at full length.

Made once under ``bench-output/JOB-SIZE``.
"""

from __future__ import annotations

from pathlib import Path

from lutcli.samples import write_adaptive_job

# Size name: (copies of each photo, their long side, the unseen copies' long side).
SIZES = {"user": (10, 768, 384), "sample": (128, 128, 192)}


def job_folders(job: str, size: str = "user", data: Path | None = None) -> tuple[Path, Path]:
    """(train, unseen) folders of ``job`` at ``size``, made under ``data`` (default
    bench-output/JOB-SIZE) if they are not there yet."""
    data = data or Path("bench-output") / f"{job}-{size}"
    if not (data / "unseen").exists():
        variants, side, unseen_side = SIZES[size]
        write_adaptive_job(data, variants, job, side, unseen_side)
    return data / "train", data / "unseen"
