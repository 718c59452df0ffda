"""Files and folders named by fsspec URLs (``s3://``, ``gs://``, ``memory://``, ``file://``…).

``lutcli apply`` takes a URL wherever it takes a path: a ``RemotePath`` offers the few pathlib
operations that planning a run needs, ``scan_folder`` lists a remote folder as
``lutcli.io.folders.scan_folder`` does a local one, and photos are processed on local copies:
``download`` fetches an input into a local file, ``upload`` puts an output under a temporary
name beside its destination and then moves it there, so that no partial object ever appears
under the final name. Plain paths (no ``scheme://``) never come here.

fsspec is imported only when a URL is used; its backends (s3fs, gcsfs, adlfs…) only for their
own URLs, and one that is missing is named in a one-line error.
"""

from __future__ import annotations

import contextlib
import errno
import os
import posixpath
import re
import secrets
from dataclasses import dataclass
from pathlib import Path, PurePath, PurePosixPath
from typing import Any

from lutcli.errors import LutcliError, os_error_reason
from lutcli.fileutil import TEMP_SUFFIX, DestinationExistsError
from lutcli.io.folders import FolderContents, is_readable_path

# "scheme://…" (two letters at least: "C://" is a Windows drive, not a URL).
_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]+://")


def is_url(text: str | os.PathLike) -> bool:
    """Whether ``text`` names a file by URL (``s3://bucket/photos``) rather than a plain path."""
    return isinstance(text, str) and _URL.match(text) is not None


def location(text: str | os.PathLike) -> Path | RemotePath:
    """What a command-line IN or OUT names: a RemotePath for a URL, else a plain Path."""
    return RemotePath.parse(text) if is_url(text) else Path(text)


def filesystem(url: str) -> tuple[Any, str]:
    """The fsspec filesystem of ``url`` and the path on it. A missing fsspec, backend or an
    unknown scheme is a LutcliError that says what to install."""
    try:
        import fsspec
    except ImportError:
        raise LutcliError(
            f"'{url}' is a URL, which needs fsspec: pip install 'lutcli[cluster]' (or fsspec)"
        ) from None
    try:
        return fsspec.core.url_to_fs(url)
    except ImportError as error:  # fsspec's words name the package: "Install s3fs to access S3"
        raise LutcliError(f"cannot open '{url}': {_sentence(error)}") from None
    except ValueError as error:  # "Protocol not known: xyz"
        raise LutcliError(f"cannot open '{url}': {_sentence(error)}") from None


def _sentence(error: Exception) -> str:
    text = " ".join(str(error).split()) or type(error).__name__
    return text[:1].lower() + text[1:]


@dataclass(frozen=True)
class RemotePath:
    """A file or folder on an fsspec filesystem: its scheme and its path there (no trailing
    slash). Its string is the URL; it pickles as that, so it travels to other machines."""

    protocol: str
    path: str

    @classmethod
    def parse(cls, url: str) -> RemotePath:
        _, path = filesystem(url)
        return cls(url.split("://", 1)[0], path.rstrip("/") or "/")

    def __str__(self) -> str:
        return f"{self.protocol}://{self.path}"

    @property
    def fs(self) -> Any:
        """The fsspec filesystem (fsspec keeps one instance per scheme and settings)."""
        return filesystem(str(self))[0]

    @property
    def name(self) -> str:
        return posixpath.basename(self.path)

    @property
    def suffix(self) -> str:
        return PurePosixPath(self.path).suffix

    @property
    def parent(self) -> RemotePath:
        return RemotePath(self.protocol, posixpath.dirname(self.path) or self.path)

    def __truediv__(self, relative: str | PurePath) -> RemotePath:
        part = relative.as_posix() if isinstance(relative, PurePath) else relative
        return RemotePath(self.protocol, posixpath.join(self.path, part))

    def resolve(self) -> RemotePath:
        """The same place with ``.`` and ``..`` worked out (for comparing places)."""
        return RemotePath(self.protocol, posixpath.normpath(self.path))

    def relative_to(self, folder: RemotePath) -> PurePosixPath:
        return PurePosixPath(self.path).relative_to(folder.path)

    def is_relative_to(self, folder: object) -> bool:
        """Whether this is ``folder`` or lies inside it (False for a place of another kind)."""
        if not isinstance(folder, RemotePath) or folder.protocol != self.protocol:
            return False
        return PurePosixPath(self.path).is_relative_to(folder.path)

    def exists(self) -> bool:
        return self.fs.exists(self.path)

    def is_file(self) -> bool:
        return self.fs.isfile(self.path)

    def is_dir(self) -> bool:
        return self.fs.isdir(self.path)


def scan_folder(folder: RemotePath, recursive: bool = False, clips: bool = False) -> FolderContents:
    """The images (with ``clips`` the clips too) in a remote ``folder`` (and below it when
    ``recursive``) and the other files it holds, both sorted; hidden files, and anything in
    hidden folders, are neither (as for local folders)."""
    fs = folder.fs
    if recursive:
        names = fs.find(folder.path, withdirs=False, detail=False)
    else:
        names = [e["name"] for e in fs.ls(folder.path, detail=True) if e["type"] == "file"]
    files, left_out = [], []
    for name in names:
        path = RemotePath(folder.protocol, name.rstrip("/"))
        if any(part.startswith(".") for part in path.relative_to(folder).parts):
            continue
        (files if is_readable_path(path, clips) else left_out).append(path)
    return FolderContents(sorted(files, key=str), sorted(left_out, key=str))


def download(source: RemotePath, local: Path) -> None:
    """Copy the remote file ``source`` to the local file ``local`` (streamed, not held whole)."""
    try:
        source.fs.get_file(source.path, os.fspath(local))
    except OSError as error:
        raise LutcliError(f"cannot read '{source}': {os_error_reason(error)}") from None


def upload(local: Path, destination: RemotePath, replace: bool = True) -> None:
    """Put the local file ``local`` at ``destination``: first under a hidden temporary name
    beside it, then moved into place, so that the final name only ever holds a whole file.

    With ``replace`` False an existing ``destination`` is kept and DestinationExistsError
    raised (checked before the move: unlike a local write, a file that appears in between can
    still be replaced, since object stores offer no move that refuses to).
    """
    fs = destination.fs
    temporary = destination.parent / f".{destination.name}.{secrets.token_hex(4)}{TEMP_SUFFIX}"
    try:
        try:
            fs.put_file(os.fspath(local), temporary.path)
        except FileNotFoundError:  # filesystems with real folders (file://, sftp://)
            fs.makedirs(destination.parent.path, exist_ok=True)
            fs.put_file(os.fspath(local), temporary.path)
        if not replace and fs.exists(destination.path):
            raise DestinationExistsError(errno.EEXIST, "a file is there already", str(destination))
        fs.mv(temporary.path, destination.path)
    except BaseException as error:
        with contextlib.suppress(Exception):
            if fs.exists(temporary.path):
                fs.rm(temporary.path)
        if isinstance(error, OSError) and not isinstance(error, DestinationExistsError):
            raise LutcliError(f"cannot write '{destination}': {os_error_reason(error)}") from None
        raise
