"""make presets: build the shipped looks in presets/ from their definitions in presets/looks.json.

presets/ is the repository's folder of the looks that ship: the build installs it as the package
``lutcli.shipped_presets`` (setup.py), so this script writes there, however lutcli is installed.

- ``looks``: chains of ``lutcli.lut.grading`` operations, sampled on a 33³ lattice and written
  as .cube files that ffmpeg, OpenColorIO, Resolve and Photoshop read too.
- ``models``: image-adaptive looks that lutcli trains on real photos (the sample photos inside
  scikit-image and scikit-learn). ``auto`` learns to undo mis-exposure and color casts: its
  training pairs are mis-colored copies of seven photos (``lutcli.samples.write_adaptive_job``)
  with the photos as they were as targets.

    .venv/bin/python scripts/make_presets.py            # everything
    .venv/bin/python scripts/make_presets.py warm bw    # just these
"""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
from pathlib import Path

from lutcli.lut.formats.cube import write_cube
from lutcli.lut.grading import apply_operations
from lutcli.lut.lattice import identity_lut
from lutcli.lut.luts import Lut3D, LutFile
from lutcli.presets import DESCRIPTION_PREFIX
from lutcli.samples import write_adaptive_job
from lutcli.training.folder import train_from_folder
from lutcli.training.options import TrainingOptions

SHIPPED_PRESETS = Path(__file__).resolve().parents[1] / "presets"
DEFINITIONS = SHIPPED_PRESETS / "looks.json"
CUBE_SIZE = 33
# Four decimals are a fortieth of an 8-bit level: exact enough, and a third smaller files.
CUBE_DECIMALS = 4


def make_cube(name: str, definition: dict) -> Path:
    """Sample a look's operations on the lattice and write presets/NAME.cube."""
    table = apply_operations(identity_lut(CUBE_SIZE), definition["operations"])
    comments = [
        DESCRIPTION_PREFIX + definition["description"],
        "made by scripts/make_presets.py from presets/looks.json: "
        + json.dumps(definition["operations"]),
    ]
    path = SHIPPED_PRESETS / f"{name}.cube"
    write_cube(LutFile(Lut3D(table.numpy()), name, comments), path, CUBE_DECIMALS)
    return path


def make_model(name: str, definition: dict) -> Path:
    """Train an adaptive look on its sample job and write presets/NAME.pt."""
    path = SHIPPED_PRESETS / f"{name}.pt"
    with tempfile.TemporaryDirectory(prefix="lutcli-presets-") as folder:
        train, _ = write_adaptive_job(Path(folder), correction=definition["job"])
        trained = Path(folder) / path.name
        train_from_folder(
            train,
            trained,
            definition["model"],
            definition["lut_size"],
            definition["model_options"],
            TrainingOptions(epochs=definition["epochs"]),
            info={"description": definition["description"]},
        )
        shutil.copyfile(trained, path)
    return path


def main(names: list[str]) -> None:
    definitions = json.loads(DEFINITIONS.read_text())
    makers = {name: (make_cube, d) for name, d in definitions["looks"].items()}
    makers.update({name: (make_model, d) for name, d in definitions["models"].items()})
    unknown = sorted(set(names) - set(makers))
    if unknown:
        sys.exit(f"unknown preset(s) {', '.join(unknown)}; defined: {', '.join(makers)}")
    for name in names or makers:
        make, definition = makers[name]
        print(f"{name}: {definition['description']}", flush=True)
        print(f"  wrote {make(name, definition)}", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
