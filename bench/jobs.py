"""The adaptive jobs the zoo's benchmarks run on, at the size of a user's job.

Each job (``lutcli.samples.CORRECTIONS``: three real tools' per-photo corrections and one global
look) is 10 reframed, mis-colored copies of each of seven photos, up to 768 px on their long side
(70 training pairs of 0.1–0.44 MP, as a user brings a folder of small photos), and 16 copies of
each of three other photos at 384 px to measure on. Made once under ``bench-output/JOB``.
"""

from __future__ import annotations

from pathlib import Path

from lutcli.samples import write_adaptive_job

VARIANTS = 10
SIDE = 768
UNSEEN_SIDE = 384


def job_folders(job: str, data: Path | None = None) -> tuple[Path, Path]:
    """(train, unseen) folders of ``job``, made under ``data`` (default bench-output/JOB) if
    they are not there yet."""
    data = data or Path("bench-output") / job
    if not (data / "unseen").exists():
        write_adaptive_job(data, VARIANTS, job, SIDE, UNSEEN_SIDE)
    return data / "train", data / "unseen"
