"""Tests for painter_match.data.images: finding, decoding and cropping image files.

Every image is generated into a temporary folder by the test that uses it.
"""

from __future__ import annotations

import io
import os
import struct
import warnings
import zlib
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from painter_match.data.images import (
    DEFAULT_MAX_PIXELS,
    IMAGE_EXTENSIONS,
    center_crop,
    find_images,
    is_image_name,
    load_image,
    load_pixels,
    resize_shorter_side,
    resolve_inside,
)
from painter_match.errors import DataError, ImageLoadError

RED = (255, 0, 0)
GREEN = (0, 255, 0)
BLUE = (0, 0, 255)
WHITE = (255, 255, 255)

needs_symlinks = pytest.mark.skipif(
    not hasattr(os, "symlink") or os.name == "nt", reason="needs POSIX symlinks"
)


def touch(path: Path, data: bytes = b"") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def save(image: Image.Image, path: Path, fmt: str | None = None, /, **params: object) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path, format=fmt, **params)
    return path


def noise(width: int, height: int, seed: int = 0) -> Image.Image:
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 256, (height, width, 3), dtype=np.uint8))


def pixel(image: Image.Image, xy: tuple[int, int]) -> tuple[int, ...]:
    return tuple(int(v) for v in np.asarray(image)[xy[1], xy[0]])


def assert_close(actual: tuple[int, ...], expected: tuple[int, ...], tolerance: int) -> None:
    assert len(actual) == len(expected)
    assert all(abs(a - e) <= tolerance for a, e in zip(actual, expected, strict=True)), (actual, expected)


def relative(paths: list[Path], root: Path) -> list[str]:
    return [p.relative_to(root).as_posix() for p in paths]


# --- names and folders ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("a.jpg", True),
        ("a.JPG", True),
        ("a.JpEg", True),
        (Path("dir/a.tiff"), True),
        ("a.TIF", True),
        ("a.webp", True),
        ("a.gif", True),
        ("a.bmp", True),
        ("a.png", True),
        ("a.jpg.txt", False),
        ("jpg", False),
        ("a.psd", False),
        ("", False),
    ],
)
def test_is_image_name(name: str | Path, expected: bool) -> None:
    assert is_image_name(name) is expected


def test_find_images_finds_every_extension_in_any_case(tmp_path: Path) -> None:
    expected = []
    for i, ext in enumerate(sorted(IMAGE_EXTENSIONS)):
        touch(tmp_path / f"low{i}{ext}")
        touch(tmp_path / "nested" / f"up{i}{ext.upper()}")
        expected += [f"low{i}{ext}", f"nested/up{i}{ext.upper()}"]
    for other in ("notes.txt", "a.jpg.txt", "jpg", "model.onnx", "nested/readme"):
        touch(tmp_path / other)
    assert len(IMAGE_EXTENSIONS) == 8
    assert relative(find_images(tmp_path), tmp_path) == sorted(expected)


def test_find_images_sorts_by_relative_posix_path_and_keeps_the_given_root(tmp_path: Path) -> None:
    root = tmp_path / "data"
    for name in ["b.jpg", "a/z.png", "C.JPG", "a/b/c.gif", "a.jpg", "a-b.png"]:
        touch(root / name)
    found = find_images(str(root))
    # Code-point order of the POSIX string: "-" < "." < "/" and upper case before lower.
    assert relative(found, root) == ["C.JPG", "a-b.png", "a.jpg", "a/b/c.gif", "a/z.png", "b.jpg"]
    assert all(isinstance(p, Path) and p == root / p.relative_to(root) for p in found)
    assert found == find_images(root)


def test_find_images_skips_hidden_files_and_folders(tmp_path: Path) -> None:
    touch(tmp_path / "keep.jpg")
    touch(tmp_path / "._keep.jpg")
    touch(tmp_path / ".hidden.png")
    touch(tmp_path / ".ipynb_checkpoints" / "keep-checkpoint.jpg")
    touch(tmp_path / "sub" / ".cache" / "x.jpg")
    touch(tmp_path / "sub" / "y.jpg")
    assert relative(find_images(tmp_path), tmp_path) == ["keep.jpg", "sub/y.jpg"]


@needs_symlinks
def test_find_images_follows_symlinks_only_inside_root(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    touch(outside / "secret.jpg")
    root = tmp_path / "root"
    touch(root / "real" / "a.jpg")
    os.symlink(outside / "secret.jpg", root / "out_file.jpg")
    os.symlink(outside, root / "out_dir")
    touch(root / "sub" / "keep.png")
    os.symlink("../real/a.jpg", root / "sub" / "in_file.jpg")
    os.symlink(root / "real", root / "in_dir")
    os.symlink("..", root / "real" / "loop")  # back to root: a loop
    os.symlink(root / "real" / "missing.jpg", root / "broken.jpg")
    os.symlink(root / "..", root / "up")  # escapes through ".."

    found = relative(find_images(root), root)

    assert found == ["in_dir/a.jpg", "real/a.jpg", "sub/in_file.jpg", "sub/keep.png"]


@needs_symlinks
def test_find_images_root_given_through_a_symlink(tmp_path: Path) -> None:
    touch(tmp_path / "real" / "a.jpg")
    os.symlink(tmp_path / "real", tmp_path / "alias")
    assert find_images(tmp_path / "alias") == [tmp_path / "alias" / "a.jpg"]


def test_find_images_rejects_missing_root_and_files(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-folder"
    with pytest.raises(DataError, match="no-such-folder"):
        find_images(missing)
    a_file = touch(tmp_path / "a.jpg")
    with pytest.raises(DataError, match=r"a\.jpg"):
        find_images(a_file)


def test_find_images_of_empty_folder_is_empty(tmp_path: Path) -> None:
    assert find_images(tmp_path) == []


@pytest.mark.parametrize(
    "name",
    [
        "../x.jpg",
        "/etc/passwd",
        "a/../../b.jpg",
        "",
        "   ",
        ".",
        "a/..",
        "..",
        "C:\\x.jpg",
        "\\\\srv\\x.jpg",
        "a\x00.jpg",
    ],
)
def test_resolve_inside_rejects_names_that_leave_the_folder(tmp_path: Path, name: str) -> None:
    with pytest.raises(DataError) as error:
        resolve_inside(tmp_path, name)
    assert repr(name) in str(error.value)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("x.jpg", "x.jpg"),
        ("sub/x.jpg", "sub/x.jpg"),
        ("a/../b.jpg", "b.jpg"),
        ("./c.jpg", "c.jpg"),
        ("d//e.png", "d/e.png"),
    ],
)
def test_resolve_inside_joins_relative_names(tmp_path: Path, name: str, expected: str) -> None:
    assert resolve_inside(tmp_path, name) == tmp_path / expected
    assert resolve_inside(str(tmp_path), name) == tmp_path / expected


@needs_symlinks
def test_resolve_inside_rejects_symlinks_out_of_the_folder(tmp_path: Path) -> None:
    root = tmp_path / "root"
    touch(tmp_path / "outside" / "x.jpg")
    touch(root / "real" / "y.jpg")
    os.symlink(tmp_path / "outside", root / "link")
    os.symlink(root / "real", root / "inner")
    with pytest.raises(DataError, match=r"link/x\.jpg"):
        resolve_inside(root, "link/x.jpg")
    os.symlink(root / "loop2", root / "loop1")
    os.symlink(root / "loop1", root / "loop2")
    with pytest.raises(DataError, match=r"loop1/x\.jpg"):
        resolve_inside(root, "loop1/x.jpg")
    assert resolve_inside(root, "inner/y.jpg") == root / "inner" / "y.jpg"


# --- decoding ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def big_jpeg(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 4096x3072 JPEG, left half green, right half blue (about 0.1 s to make)."""
    image = Image.new("RGB", (4096, 3072), BLUE)
    image.paste(GREEN, (0, 0, 2048, 3072))
    return save(image, tmp_path_factory.mktemp("big") / "big.jpg", quality=90)


@pytest.mark.parametrize(
    ("min_side", "expected_size"),
    [(256, (512, 384)), (384, (512, 384)), (385, (1024, 768)), (1536, (2048, 1536)), (1537, (4096, 3072))],
)
def test_large_jpeg_is_decoded_at_reduced_scale_but_never_below_min_side(
    big_jpeg: Path, min_side: int, expected_size: tuple[int, int]
) -> None:
    image = load_image(big_jpeg, min_side=min_side)
    assert image.size == expected_size
    assert image.mode == "RGB"
    if min_side == 256:
        assert 256 <= min(image.size) < 512
    width, height = image.size
    assert_close(pixel(image, (width // 4, height // 2)), GREEN, 8)
    assert_close(pixel(image, (3 * width // 4, height // 2)), BLUE, 8)


def test_large_jpeg_without_min_side_and_never_upscaled(big_jpeg: Path) -> None:
    assert load_image(big_jpeg).size == (4096, 3072)
    assert load_image(big_jpeg, min_side=5000).size == (4096, 3072)


def test_max_pixels_counts_the_pixels_actually_decoded(big_jpeg: Path) -> None:
    with pytest.raises(ImageLoadError) as error:
        load_image(big_jpeg, max_pixels=1_000_000)
    message = str(error.value)
    assert error.value.path == big_jpeg
    assert "4096x3072" in message
    assert "1,000,000" in message
    assert "max_pixels" in message
    # Drafted to 512x384 = 196,608 pixels, well inside the same limit.
    assert load_image(big_jpeg, min_side=256, max_pixels=1_000_000).size == (512, 384)


def test_max_pixels_refuses_formats_that_must_be_decoded_whole(tmp_path: Path) -> None:
    path = save(Image.new("RGB", (200, 100), RED), tmp_path / "wide.png")
    with pytest.raises(ImageLoadError, match=r"200x100 = 20,000 pixels.*limit of 19,999.*max_pixels"):
        load_image(path, min_side=10, max_pixels=19_999)
    assert load_image(path, max_pixels=20_000).size == (200, 100)
    assert DEFAULT_MAX_PIXELS >= 200_000_000


def test_huge_header_is_refused_before_decoding(tmp_path: Path) -> None:
    # A PNG that claims 30000x20000 pixels (600 Mpx, beyond Pillow's own limits too) but
    # holds no pixel data: the limit has to fire on the header, before any decoding.
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", 30000, 20000, 8, 2, 0, 0, 0)
    data = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", b"") + chunk(b"IEND", b"")
    path = touch(tmp_path / "huge.png", data)
    with pytest.raises(ImageLoadError, match=r"30000x20000 = 600,000,000 pixels.*limit of 300,000,000"):
        load_image(path, min_side=224)


@pytest.mark.parametrize("name", ["bomb.png", "bomb.jpg", "bomb.tif", "bomb.gif"])
def test_images_above_pillows_limit_load_without_warning_within_ours(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    path = save(Image.new("RGB", (120, 100), RED), tmp_path / name)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)
    with pytest.raises(Image.DecompressionBombError):  # Pillow alone refuses 12,000 > 2 x 1000
        Image.open(path)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        image = load_image(path)
    assert image.size == (120, 100)
    assert_close(pixel(image, (60, 50)), RED, 8)
    assert Image.MAX_IMAGE_PIXELS == 1000  # the user's setting is back


def test_pillow_limit_is_restored_after_a_failed_load(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1234)
    with pytest.raises(ImageLoadError):
        load_image(touch(tmp_path / "bad.png", b"not a png at all"))
    with pytest.raises(ImageLoadError):
        load_image(save(Image.new("RGB", (50, 50)), tmp_path / "big.png"), max_pixels=10)
    assert Image.MAX_IMAGE_PIXELS == 1234


def test_concurrent_loads_never_see_pillows_check(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    paths = [save(noise(90, 60, seed), tmp_path / f"{seed}.png") for seed in range(4)]
    paths.append(save(noise(60, 90), tmp_path / "x.jpg"))
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with ThreadPoolExecutor(max_workers=8) as pool:
            sizes = list(pool.map(lambda p: load_image(p).size, paths * 20))
    assert sizes == ([(90, 60)] * 4 + [(60, 90)]) * 20
    assert Image.MAX_IMAGE_PIXELS == 100


def corner_image() -> Image.Image:
    """60x40, blue, with a red 20x20 block in the top-left corner."""
    image = Image.new("RGB", (60, 40), BLUE)
    image.paste(RED, (0, 0, 20, 20))
    return image


@pytest.mark.parametrize(
    ("orientation", "size", "red_at", "blue_at"),
    [
        (1, (60, 40), (10, 10), (50, 30)),
        (3, (60, 40), (50, 30), (10, 10)),  # rotated 180 degrees
        (6, (40, 60), (30, 10), (10, 10)),  # rotate 90 degrees clockwise: top-left -> top-right
        (8, (40, 60), (10, 50), (10, 10)),  # rotate 90 degrees counter-clockwise: -> bottom-left
    ],
)
def test_exif_orientation_is_applied(
    tmp_path: Path, orientation: int, size: tuple[int, int], red_at: tuple[int, int], blue_at: tuple[int, int]
) -> None:
    exif = Image.Exif()
    exif[0x0112] = orientation
    path = save(corner_image(), tmp_path / "oriented.jpg", exif=exif, quality=95)
    image = load_image(path)
    assert image.size == size
    assert_close(pixel(image, red_at), RED, 12)
    assert_close(pixel(image, blue_at), BLUE, 12)


def test_exif_orientation_with_reduced_jpeg_decoding(tmp_path: Path) -> None:
    exif = Image.Exif()
    exif[0x0112] = 6
    image = corner_image().resize((1200, 800), Image.Resampling.NEAREST)
    path = save(image, tmp_path / "oriented.jpg", exif=exif, quality=95)
    loaded = load_image(path, min_side=100)
    assert loaded.size == (100, 150)  # drafted to 1/8 = 150x100, then rotated
    assert_close(pixel(loaded, (90, 10)), RED, 12)
    assert_close(pixel(loaded, (10, 10)), BLUE, 12)
    assert load_image(path, min_side=101).size == (200, 300)  # 1/4: 1/8 would be too small


@pytest.mark.parametrize(
    ("cmyk", "rgb"),
    [
        ((0, 255, 255, 0), RED),
        ((255, 0, 255, 0), GREEN),
        ((0, 0, 0, 0), WHITE),
        ((0, 0, 0, 128), (127, 127, 127)),
    ],
)
def test_cmyk_jpeg_gives_the_right_colour(
    tmp_path: Path, cmyk: tuple[int, ...], rgb: tuple[int, ...]
) -> None:
    path = save(Image.new("CMYK", (32, 32), cmyk), tmp_path / "cmyk.jpg", quality=95)
    with Image.open(path) as raw:
        assert raw.mode == "CMYK"
        assert "adobe" in raw.info  # Pillow writes (and reads) Adobe-inverted CMYK
    image = load_image(path)
    assert image.mode == "RGB"
    assert_close(pixel(image, (16, 16)), rgb, 10)


def test_greyscale_and_bilevel(tmp_path: Path) -> None:
    grey = load_image(save(Image.new("L", (8, 8), 77), tmp_path / "grey.png"))
    assert grey.mode == "RGB"
    assert pixel(grey, (3, 3)) == (77, 77, 77)

    bilevel = Image.new("1", (8, 8), 0)
    bilevel.paste(1, (4, 0, 8, 8))
    for name in ("bilevel.png", "bilevel.bmp", "bilevel.tif"):
        image = load_image(save(bilevel, tmp_path / name))
        assert image.mode == "RGB"
        assert pixel(image, (1, 1)) == (0, 0, 0)
        assert pixel(image, (6, 6)) == WHITE


def palette_with_transparent_red() -> Image.Image:
    """8x8 palette image: left half index 0 (red, to be transparent), right half index 1 (blue)."""
    image = Image.new("P", (8, 8), 0)
    image.putpalette([*RED, *BLUE] + [0, 0, 0] * 254)
    image.paste(1, (4, 0, 8, 8))
    return image


@pytest.mark.parametrize("name", ["palette.png", "palette.gif"])
def test_palette_with_transparency_is_composited_on_white(tmp_path: Path, name: str) -> None:
    path = save(palette_with_transparent_red(), tmp_path / name, transparency=0)
    image = load_image(path)
    assert image.mode == "RGB"
    assert pixel(image, (1, 1)) == WHITE
    assert pixel(image, (6, 6)) == BLUE


def test_palette_without_transparency(tmp_path: Path) -> None:
    image = load_image(save(palette_with_transparent_red(), tmp_path / "palette.png"))
    assert pixel(image, (1, 1)) == RED
    assert pixel(image, (6, 6)) == BLUE


@pytest.mark.parametrize("name", ["alpha.png", "alpha.webp", "alpha.tif"])
def test_alpha_is_composited_on_white_not_black(tmp_path: Path, name: str) -> None:
    rgba = Image.new("RGBA", (12, 4), (0, 0, 0, 0))  # transparent black
    rgba.paste((255, 0, 0, 255), (4, 0, 8, 4))
    rgba.paste((0, 0, 255, 128), (8, 0, 12, 4))
    params = {"lossless": True} if name.endswith(".webp") else {}
    image = load_image(save(rgba, tmp_path / name, **params))
    assert image.mode == "RGB"
    assert pixel(image, (1, 1)) == WHITE
    assert pixel(image, (5, 1)) == RED
    assert_close(pixel(image, (10, 1)), (127, 127, 255), 2)


def test_grey_with_alpha_is_composited_on_white(tmp_path: Path) -> None:
    la = Image.new("LA", (4, 4), (0, 0))
    la.paste((0, 255), (2, 0, 4, 4))
    image = load_image(save(la, tmp_path / "la.png"))
    assert pixel(image, (0, 0)) == WHITE
    assert pixel(image, (3, 3)) == (0, 0, 0)


@pytest.mark.parametrize(
    ("mode", "name"), [("I;16", "deep.png"), ("I;16", "deep.tif"), ("I;16B", "deep_be.tif")]
)
def test_sixteen_bit_images_are_scaled_not_clipped(tmp_path: Path, mode: str, name: str) -> None:
    values = np.array([[0, 32896, 65535, 1000]], dtype="<u2" if mode == "I;16" else ">u2")
    path = save(Image.frombytes(mode, (4, 1), values.tobytes()), tmp_path / name)
    with Image.open(path) as raw:
        assert raw.mode == mode
    image = load_image(path)
    assert image.mode == "RGB"
    assert [pixel(image, (x, 0)) for x in range(4)] == [(0, 0, 0), (128, 128, 128), WHITE, (4, 4, 4)]


def test_thirty_two_bit_integer_image_is_read_as_sixteen_bit(tmp_path: Path) -> None:
    values = np.array([[0, 32896, 65535, 70000]], dtype=np.int32)
    path = save(Image.fromarray(values), tmp_path / "int.tif")
    with Image.open(path) as raw:
        assert raw.mode == "I"
    image = load_image(path)
    assert [pixel(image, (x, 0))[0] for x in range(4)] == [0, 128, 255, 255]


def test_float_image_range_is_mapped_to_0_255(tmp_path: Path) -> None:
    values = np.array([[-1.0, 0.0, 1.0, 3.0]], dtype=np.float32)
    path = save(Image.fromarray(values), tmp_path / "float.tif")
    with Image.open(path) as raw:
        assert raw.mode == "F"
    image = load_image(path)
    assert [pixel(image, (x, 0))[0] for x in range(4)] == [0, 64, 128, 255]


@pytest.mark.parametrize(
    "name", ["plain.tif", "plain.tiff", "plain.webp", "plain.bmp", "plain.png", "plain.JPEG"]
)
def test_common_formats(tmp_path: Path, name: str) -> None:
    source = Image.new("RGB", (16, 8), RED)
    source.paste(GREEN, (8, 0, 16, 8))
    params = (
        {"lossless": True} if name.endswith(".webp") else {"quality": 95} if name.endswith(".JPEG") else {}
    )
    image = load_image(save(source, tmp_path / name, **params))
    assert image.mode == "RGB"
    assert image.size == (16, 8)
    assert_close(pixel(image, (2, 4)), RED, 6)
    assert_close(pixel(image, (13, 4)), GREEN, 6)


@pytest.mark.parametrize("name", ["frames.gif", "frames.tif", "frames.webp"])
def test_multi_frame_files_give_the_first_frame(tmp_path: Path, name: str) -> None:
    frames = [Image.new("RGB", (8, 8), colour) for colour in (RED, GREEN, BLUE)]
    params = {"lossless": True} if name.endswith(".webp") else {}
    path = save(frames[0], tmp_path / name, save_all=True, append_images=frames[1:], **params)
    with Image.open(path) as raw:
        assert raw.n_frames == 3
    image = load_image(path)
    assert image.mode == "RGB"
    assert pixel(image, (4, 4)) == RED


def test_content_decides_the_format_not_the_name(tmp_path: Path) -> None:
    path = save(Image.new("RGB", (4, 4), GREEN), tmp_path / "actually_png.jpg", "PNG")
    assert pixel(load_image(path), (1, 1)) == GREEN


def test_returned_image_is_independent_of_the_file(tmp_path: Path) -> None:
    path = save(Image.new("RGB", (4, 4), GREEN), tmp_path / "a.png")
    image = load_image(path)
    path.unlink()
    assert image.copy().resize((2, 2)).size == (2, 2)
    assert pixel(image, (0, 0)) == GREEN


def _write_truncated_jpeg(path: Path) -> Path:
    buffer = io.BytesIO()
    noise(64, 64).save(buffer, "JPEG")
    return touch(path, buffer.getvalue()[: len(buffer.getvalue()) // 2])


def _write_truncated_png(path: Path) -> Path:
    buffer = io.BytesIO()
    noise(64, 64).save(buffer, "PNG")
    return touch(path, buffer.getvalue()[: len(buffer.getvalue()) // 2])


def _write_corrupt_png(path: Path) -> Path:
    buffer = io.BytesIO()
    noise(64, 64).save(buffer, "PNG")
    data = bytearray(buffer.getvalue())
    data[len(data) // 2] ^= 0xFF  # inside the compressed pixel data
    return touch(path, bytes(data))


def _write_truncated_gif(path: Path) -> Path:
    buffer = io.BytesIO()
    noise(64, 64).convert("P").save(buffer, "GIF")
    return touch(path, buffer.getvalue()[: len(buffer.getvalue()) // 2])


def _write_pcx(path: Path) -> Path:
    return save(Image.new("RGB", (8, 8)), path, "PCX")


def _make_dir(path: Path) -> Path:
    path.mkdir()
    return path


def _make_fifo(path: Path) -> Path:
    if not hasattr(os, "mkfifo"):
        pytest.skip("needs os.mkfifo")
    os.mkfifo(path)
    return path


@pytest.mark.parametrize(
    ("name", "make", "cause"),
    [
        ("empty.jpg", touch, "empty file"),
        ("text.jpg", lambda p: touch(p, b"this is a text file\n" * 10), "not an image file"),
        ("truncated.jpg", _write_truncated_jpeg, "truncated image data"),
        ("truncated.png", _write_truncated_png, "truncated image data"),
        ("truncated.gif", _write_truncated_gif, "truncated image data"),
        ("corrupt.png", _write_corrupt_png, "corrupt image data"),
        ("header_only.jpg", lambda p: touch(p, b"\xff\xd8\xff\xe0\x00\x10JFIF\x00"), "truncated image data"),
        ("pcx_inside.png", _write_pcx, "not an image file"),
        ("missing.jpg", lambda p: p, "file not found"),
        ("folder.jpg", _make_dir, "is a directory"),
        ("fifo.jpg", _make_fifo, "not a regular file"),
    ],
)
def test_unreadable_files_raise_image_load_error(
    tmp_path: Path, name: str, make: Callable[[Path], Path], cause: str
) -> None:
    path = make(tmp_path / name)
    with pytest.raises(ImageLoadError) as error:
        load_image(path)
    assert error.value.path == path
    assert cause in error.value.cause
    assert str(error.value) == f"{path}: {error.value.cause}"
    assert "\n" not in str(error.value)
    with pytest.raises(ImageLoadError):
        load_pixels(path, 32)


def test_invalid_arguments(tmp_path: Path) -> None:
    path = save(Image.new("RGB", (8, 8)), tmp_path / "a.png")
    with pytest.raises(ValueError, match="min_side"):
        load_image(path, min_side=0)
    with pytest.raises(ValueError, match="max_pixels"):
        load_image(path, max_pixels=0)
    with pytest.raises(ValueError, match="resize"):
        load_pixels(path, 32, resize=16)


# --- resizing and cropping --------------------------------------------------------------


@pytest.mark.parametrize(
    ("size_in", "size", "size_out"),
    [
        ((300, 200), 100, (150, 100)),
        ((200, 300), 100, (100, 150)),
        ((50, 40), 100, (125, 100)),
        ((333, 100), 64, (213, 64)),
    ],
)
def test_resize_shorter_side(size_in: tuple[int, int], size: int, size_out: tuple[int, int]) -> None:
    assert resize_shorter_side(Image.new("RGB", size_in), size).size == size_out


def test_resize_shorter_side_keeps_an_image_already_that_size() -> None:
    image = Image.new("RGB", (300, 100))
    assert resize_shorter_side(image, 100) is image


def test_resize_shorter_side_keeps_colours() -> None:
    resized = resize_shorter_side(Image.new("RGB", (4000, 3000), (10, 120, 230)), 256)
    assert resized.size == (341, 256)
    assert pixel(resized, (170, 128)) == (10, 120, 230)


def test_center_crop_takes_the_centre() -> None:
    values = np.arange(7 * 5, dtype=np.uint8).reshape(5, 7)
    image = Image.fromarray(np.stack([values] * 3, axis=-1))
    crop = center_crop(image, 3)
    assert crop.size == (3, 3)
    np.testing.assert_array_equal(np.asarray(crop)[..., 0], values[1:4, 2:5])
    assert center_crop(image, 5).size == (5, 5)


def test_center_crop_rejects_small_images() -> None:
    with pytest.raises(ValueError, match=r"4x4 centre crop of a 3x5 image"):
        center_crop(Image.new("RGB", (3, 5)), 4)


# --- the model's input ------------------------------------------------------------------


@pytest.mark.parametrize("landscape", [True, False])
def test_load_pixels_returns_the_centre_square(tmp_path: Path, landscape: bool) -> None:
    # 300x200 blue with a red band over the central 180 columns; after resizing to a shorter
    # side of 100 (150x100) the band covers columns 30..120 and the crop starts at 25.
    image = Image.new("RGB", (300, 200), BLUE)
    image.paste(RED, (60, 0, 240, 200))
    if not landscape:
        image = image.transpose(Image.Transpose.ROTATE_90)
    pixels = load_pixels(save(image, tmp_path / "band.png"), 100)
    assert pixels.shape == (100, 100, 3)
    assert pixels.dtype == np.uint8
    assert pixels.flags.c_contiguous
    assert pixels.flags.writeable
    if not landscape:
        pixels = np.rot90(pixels, k=-1)
    for x, colour in [(0, BLUE), (2, BLUE), (8, RED), (50, RED), (91, RED), (97, BLUE), (99, BLUE)]:
        assert_close(tuple(int(v) for v in pixels[50, x]), colour, 3)
        assert_close(tuple(int(v) for v in pixels[0, x]), colour, 3)


def test_load_pixels_with_resize_before_crop(tmp_path: Path) -> None:
    image = Image.new("RGB", (160, 160), BLUE)
    image.paste(RED, (30, 30, 130, 130))  # red square of 100/160 of the side
    pixels = load_pixels(save(image, tmp_path / "square.png"), 64, resize=80)
    # At 80 pixels the red square spans 15..65; the 64 crop starts at 8, so 7..57 inside it.
    assert pixels.shape == (64, 64, 3)
    assert_close(tuple(int(v) for v in pixels[32, 32]), RED, 3)
    assert_close(tuple(int(v) for v in pixels[2, 2]), BLUE, 3)
    assert_close(tuple(int(v) for v in pixels[61, 61]), BLUE, 3)


def test_load_pixels_upscales_small_images_and_matches_load_image(tmp_path: Path) -> None:
    path = save(noise(20, 10), tmp_path / "tiny.png")
    pixels = load_pixels(path, 32)
    assert pixels.shape == (32, 32, 3)
    expected = np.asarray(center_crop(resize_shorter_side(load_image(path), 32), 32))
    np.testing.assert_array_equal(pixels, expected)


def test_load_pixels_of_a_large_jpeg(big_jpeg: Path) -> None:
    pixels = load_pixels(big_jpeg, 224, resize=256)
    assert pixels.shape == (224, 224, 3)
    assert_close(tuple(int(v) for v in pixels[112, 20]), GREEN, 8)
    assert_close(tuple(int(v) for v in pixels[112, 200]), BLUE, 8)
