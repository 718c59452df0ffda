"""lutcli.io.remote: IN and OUT given as fsspec URLs (memory:// here: no network), planned and
processed as local folders are, with outputs that are whole or absent."""

from __future__ import annotations

import sys
import uuid
from collections.abc import Iterator
from pathlib import Path, PurePosixPath

import cv2
import fsspec
import numpy as np
import pytest

from lutcli.errors import LutcliError
from lutcli.fileutil import DestinationExistsError
from lutcli.io.remote import RemotePath, download, is_url, location, scan_folder, upload
from lutcli.looks import FileLook
from lutcli.lut.lattice import identity_lut
from lutcli.lut.luts import Lut3D, LutFile
from lutcli.processing import Job, plan_jobs, process_jobs

# A look that inverts every color (a 2-point LUT is exact).
invert = FileLook(LutFile(Lut3D((1 - identity_lut(2)).numpy())))


@pytest.fixture
def memory() -> Iterator[str]:
    """A fresh folder of fsspec's in-memory filesystem (shared by the whole process), as a
    URL; removed afterwards."""
    root = f"/test-{uuid.uuid4().hex[:8]}"
    yield f"memory://{root}"
    fs = fsspec.filesystem("memory")
    if fs.exists(root):
        fs.rm(root, recursive=True)


def encoded(seed: int, extension: str = ".png") -> bytes:
    pixels = np.random.default_rng(seed).integers(0, 256, (12, 16, 3), np.uint8)
    return cv2.imencode(extension, pixels)[1].tobytes()


def put(url: str, data: bytes) -> None:
    fsspec.open(url, "wb").fs.pipe_file(RemotePath.parse(url).path, data)


def read(place: RemotePath) -> bytes:
    return place.fs.cat_file(place.path)


def temporaries(root: str) -> list[str]:
    return [name for name in fsspec.filesystem("memory").find(root) if "lutcli-tmp" in name]


@pytest.mark.parametrize(
    "text, url",
    [
        ("s3://bucket/photos", True),
        ("memory://x", True),
        ("file:///tmp/x", True),
        ("photos/a.jpg", False),
        ("/abs/a.jpg", False),
        ("C://photos", False),  # a Windows drive
        ("weird:name.jpg", False),
    ],
)
def test_a_url_has_a_scheme_and_a_plain_path_stays_a_path(text, url):
    assert is_url(text) is url
    if not text.startswith("s3:"):  # no s3fs here
        assert isinstance(location(text), RemotePath if url else Path)


def test_a_remote_path_offers_what_planning_needs():
    photo = RemotePath.parse("memory://shoot/day1/a.JPG")
    assert str(photo) == "memory:///shoot/day1/a.JPG"
    assert (photo.name, photo.suffix) == ("a.JPG", ".JPG")
    folder = RemotePath.parse("memory://shoot/")
    assert photo.parent.parent == folder
    assert folder / PurePosixPath("day1/a.JPG") == photo == folder / "day1" / "a.JPG"
    assert photo.relative_to(folder) == PurePosixPath("day1/a.JPG")
    assert photo.is_relative_to(folder) and not folder.is_relative_to(photo)
    assert not photo.is_relative_to(Path("/shoot"))  # another kind of place
    assert RemotePath.parse("memory://shoot/x/../day1/a.JPG").resolve() == photo


def test_a_remote_folder_lists_like_a_local_one(memory):
    for name in ("b.jpg", "a.png", "notes.txt", ".hidden.jpg", "sub/c.tif", ".cache/d.jpg"):
        put(f"{memory}/{name}", b"x")
    folder = RemotePath.parse(memory)
    flat = scan_folder(folder)
    assert [path.name for path in flat.files] == ["a.png", "b.jpg"]
    assert [path.name for path in flat.left_out] == ["notes.txt"]
    deep = scan_folder(folder, recursive=True)
    names = [str(path.relative_to(folder)) for path in deep.files]
    assert names == ["a.png", "b.jpg", "sub/c.tif"]


def test_a_folder_of_urls_is_processed_as_a_local_one(tmp_path, memory):
    """memory:// in and out: the bytes that local folders get, and the reruns' skipping."""
    local = tmp_path / "photos"
    local.mkdir()
    for index, extension in enumerate((".png", ".jpg", ".tif")):
        data = encoded(index, extension)
        (local / f"p{index}{extension}").write_bytes(data)
        put(f"{memory}/photos/p{index}{extension}", data)
    process_jobs(invert, plan_jobs(local, tmp_path / "out", False).jobs)
    jobs = plan_jobs(f"{memory}/photos", f"{memory}/out", False).jobs
    assert [str(job.destination) for job in jobs] == [
        f"memory://{memory[9:]}/out/p{index}{extension}"
        for index, extension in enumerate((".png", ".jpg", ".tif"))
    ]
    summary = process_jobs(invert, jobs, parallel_jobs=2)
    assert (summary.written, summary.failed) == (3, [])
    for job in jobs:
        assert read(job.destination) == (tmp_path / "out" / job.destination.name).read_bytes()
    assert not temporaries(memory[9:])
    again = process_jobs(invert, jobs)
    assert (again.written, again.skipped) == (0, 3)


def test_a_url_into_a_local_folder_and_back(tmp_path, memory):
    put(f"{memory}/a.png", encoded(1))
    [job] = plan_jobs(f"{memory}/a.png", tmp_path, False).jobs
    assert job == Job(RemotePath.parse(f"{memory}/a.png"), tmp_path / "a.png")
    assert process_jobs(invert, [job]).written == 1
    [back] = plan_jobs(tmp_path, f"{memory}/back", False).jobs
    assert process_jobs(invert, [back]).written == 1
    assert (tmp_path / "a.png").read_bytes() != encoded(1)
    assert read(back.destination) == encoded(1)  # inverted twice: the photo itself


def test_a_bad_remote_photo_is_named_by_its_url(memory):
    put(f"{memory}/in/broken.jpg", b"not a photo")
    put(f"{memory}/in/fine.png", encoded(2))
    summary = process_jobs(invert, plan_jobs(f"{memory}/in", f"{memory}/out", False).jobs)
    assert summary.written == 1
    [(source, message)] = summary.failed
    assert str(source) == f"memory://{memory[9:]}/in/broken.jpg"
    assert message.startswith(f"cannot read 'memory://{memory[9:]}/in/broken.jpg': ")
    assert "lutcli-" not in message  # not the local copy's name


@pytest.mark.parametrize(
    "source, destination, message",
    [
        ("in", "in", "the output folder is the input folder"),
        ("nothing", "out", "no such file or folder: 'memory://"),
        ("in/a.png", "out.txt", "unknown image type"),
    ],
)
def test_plan_errors_name_the_urls(memory, source, destination, message):
    put(f"{memory}/in/a.png", encoded(0))
    with pytest.raises(LutcliError, match=message):
        plan_jobs(f"{memory}/{source}", f"{memory}/{destination}", False)


def test_an_output_folder_inside_the_input_folder_is_left_out(memory):
    put(f"{memory}/in/a.png", encoded(0))
    put(f"{memory}/in/graded/a.png", encoded(1))
    jobs = plan_jobs(f"{memory}/in", f"{memory}/in/graded", True).jobs
    assert [job.source.name for job in jobs] == ["a.png"]


def test_an_upload_that_fails_leaves_nothing_under_the_final_name(tmp_path, memory, monkeypatch):
    local = tmp_path / "a.png"
    local.write_bytes(encoded(3))
    destination = RemotePath.parse(f"{memory}/out/a.png")
    fs = destination.fs

    def half_then_fail(source: str, path: str, **kwargs) -> None:
        fs.pipe_file(path, Path(source).read_bytes()[:10])  # a partial object
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(fs, "put_file", half_then_fail)
    with pytest.raises(LutcliError, match=r"cannot write 'memory://.*/out/a.png': no space left"):
        upload(local, destination)
    monkeypatch.undo()
    assert not fs.exists(destination.path) and not temporaries(memory[9:])


def test_an_upload_keeps_an_existing_file_unless_replacing(tmp_path, memory):
    local = tmp_path / "a.png"
    local.write_bytes(b"new")
    destination = RemotePath.parse(f"{memory}/a.png")
    put(str(destination), b"old")
    with pytest.raises(DestinationExistsError):
        upload(local, destination, replace=False)
    assert read(destination) == b"old" and not temporaries(memory[9:])
    upload(local, destination)
    assert read(destination) == b"new"


def test_a_missing_remote_file_is_one_error(tmp_path, memory):
    with pytest.raises(LutcliError, match=r"cannot read 'memory://.*/gone.jpg': "):
        download(RemotePath.parse(f"{memory}/gone.jpg"), tmp_path / "gone.jpg")


def test_a_missing_backend_names_the_package_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "s3fs", None)  # as where s3fs is not installed
    registered = sys.modules["fsspec.registry"]._registry  # the backends imported so far
    monkeypatch.delitem(registered, "s3", raising=False)
    with pytest.raises(LutcliError, match=r"^cannot open 's3://bucket/photos': .*s3fs"):
        location("s3://bucket/photos")
    with pytest.raises(LutcliError, match=r"^cannot open 'nosuch://x': protocol not known"):
        location("nosuch://x")


def test_without_fsspec_a_url_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "fsspec", None)
    with pytest.raises(LutcliError, match=r"needs fsspec: pip install 'lutcli\[cluster\]'"):
        location("s3://bucket/photos")
