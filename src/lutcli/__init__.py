"""lutcli: learn a photo look as a 3D color lookup table, apply it fast, export it as .cube."""

__version__ = "0.1.0"
