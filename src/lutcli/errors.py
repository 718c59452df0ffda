"""Errors a user can cause. The CLI turns each into one line on stderr and a non-zero exit."""


class LutcliError(Exception):
    """Base of every error caused by input (files, folders, options), not by a bug."""


class CubeFormatError(LutcliError):
    """A .cube file that cannot be read; the message names the file and the line."""


class ImageReadError(LutcliError):
    """An image file that cannot be decoded (corrupt, truncated, unknown format)."""


class ModelFileError(LutcliError):
    """A file that is not a lutcli model, or one that would need to run code to load."""


class DatasetError(LutcliError):
    """A training folder that cannot be used (missing, empty, unmatched pairs)."""
