"""The image derivative cache: entries appear whole or not at all, whoever makes them and however
many make the same one at once; the same bytes under another extension are another entry."""

from __future__ import annotations

import io
import threading

from PIL import Image

from builder import images


def jpeg(colour: str = "red", size: tuple[int, int] = (1200, 800)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, colour).save(buffer, "JPEG")
    return buffer.getvalue()


def test_builds_making_one_entry_at_once_leave_one_whole_entry(tmp_path):
    data = jpeg()
    start = threading.Barrier(4)
    results, errors = [], []

    def run() -> None:
        start.wait()
        try:
            results.append(images.process("photo.jpg", data, tmp_path))
        except Exception as exc:  # noqa: BLE001 - the test reports it
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len({repr(info) for info, _ in results}) == 1
    entries = [p for p in tmp_path.glob("*/*")]
    assert len(entries) == 1 and not entries[0].name.startswith(".")  # no private folder left behind
    for _, files in results:
        assert all(path.is_file() for path in files.values())


def test_a_half_made_entry_is_made_again(tmp_path):
    data = jpeg("blue")
    info, files = images.process("photo.jpg", data, tmp_path)
    entry = files["media/photo.jpg"].parent
    (entry / "meta.json").unlink()  # as a deletion of the cache in progress leaves it
    (entry / "480.webp").unlink()
    again, again_files = images.process("photo.jpg", data, tmp_path)
    assert again == info and all(path.is_file() for path in again_files.values())


def test_the_same_bytes_named_png_make_png_derivatives(tmp_path):
    data = jpeg("green")
    as_jpeg, _ = images.process("a.jpg", data, tmp_path)
    as_png, _ = images.process("a.png", data, tmp_path)
    assert as_jpeg.fallback_format == "jpeg" and as_png.fallback_format == "png"
    assert len(list(tmp_path.glob("*/*"))) == 2
