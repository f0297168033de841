"""Shards and merge: a stable, balanced split of a folder by path hash, and `merge` putting the shards
back together into the file one unsharded run writes, refusing mixed models and overlapping shards."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from onnx_models import tiny_info, write_tiny_model
from PIL import Image

from painter_match.cli import main
from painter_match.errors import DataError, OutputError
from painter_match.inference.embeddings import errors_path, load_embeddings, partial_path, read_errors
from painter_match.inference.scale_out.shards import merge_embeddings, parse_shard, select_shard, shard_of

SYNTHETIC = [f"artist_{i % 97:02d}/painting_{i:05d}.jpg" for i in range(10_000)]


# --- the split -----------------------------------------------------------------------------------


# Chi-square with N-1 degrees of freedom that a uniform split exceeds one time in a thousand.
CHI2_999 = {3: 13.82, 7: 22.46}


@pytest.mark.parametrize("shards", [3, 7])
def test_shards_are_balanced_within_a_few_percent(shards: int) -> None:
    counts = Counter(shard_of(p, shards) for p in SYNTHETIC)
    assert sorted(counts) == list(range(shards))
    expected = len(SYNTHETIC) / shards
    worst = max(abs(c - expected) / expected for c in counts.values())
    # 10,000 paths over 7 shards: one binomial standard deviation is already 2.4% of a shard.
    assert worst < 0.06, (counts, worst)
    chi2 = sum((c - expected) ** 2 / expected for c in counts.values())
    assert chi2 < CHI2_999[shards], (counts, chi2)


def test_existing_paths_keep_their_shard_when_files_are_added() -> None:
    before = {p: shard_of(p, 7) for p in SYNTHETIC}
    added = [f"new_artist_{i % 13}/extra_{i}.png" for i in range(3_000)]
    collection = added[:1500] + SYNTHETIC + added[1500:]
    after = {p: shard_of(p, 7) for p in collection}
    assert all(after[p] == before[p] for p in SYNTHETIC)
    assert (
        sum(select_shard(collection, k, 7) == [p for p in collection if after[p] == k] for k in range(7)) == 7
    )


def test_the_shard_is_blake2b_of_the_path_the_same_in_every_process() -> None:
    name = "Vincent van Gogh/Starry Night.jpg"
    expected = int.from_bytes(hashlib.blake2b(name.encode(), digest_size=8).digest(), "big") % 5
    assert shard_of(name, 5) == expected
    assert shard_of("./" + name, 5) == expected  # one spelling of a name, one shard
    code = "from painter_match.inference.scale_out.shards import shard_of; print([shard_of(f'a/{i}.jpg', 7) for i in range(50)])"
    runs = {
        subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ, "PYTHONHASHSEED": seed},
        ).stdout
        for seed in ("1", "2")
    }
    assert runs == {str([shard_of(f"a/{i}.jpg", 7) for i in range(50)]) + "\n"}


def test_select_shard_partitions_the_paths_in_their_order() -> None:
    parts = [select_shard(SYNTHETIC, k, 3) for k in range(3)]
    assert sum(len(p) for p in parts) == len(SYNTHETIC)
    assert set().union(*map(set, parts)) == set(SYNTHETIC)
    for part in parts:
        assert part == [p for p in SYNTHETIC if p in set(part)]
    assert select_shard(SYNTHETIC, 0, 1) == SYNTHETIC


def test_parse_shard() -> None:
    assert parse_shard("0/3") == (0, 3)
    assert parse_shard("6/7") == (6, 7)
    assert parse_shard("0/1") == (0, 1)
    for bad in ("3/3", "-1/3", "1", "a/b", "1/0", ""):
        with pytest.raises(ValueError, match="expected K/N"):
            parse_shard(bad)


# --- embed --shard and merge ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("models")
    return {
        "a": write_tiny_model(folder / "a.onnx", info=tiny_info(tag="a")),
        "b": write_tiny_model(folder / "b.onnx", info=tiny_info(tag="b"), seed=1),
    }


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """21 small pictures in three artist folders (and one at the top), each different."""
    root = tmp_path_factory.mktemp("collection")
    rng = np.random.default_rng(3)
    for i in range(21):
        sub = root / f"artist_{i % 3}" if i else root
        sub.mkdir(exist_ok=True)
        pixels = (rng.random((40 + i, 48, 3)) * 255 * (0.3 + i / 30)).clip(0, 255).astype(np.uint8)
        Image.fromarray(pixels).save(sub / f"p{i:02d}.png")
    return root


def _embed(argv: list[str], capsys: pytest.CaptureFixture[str]) -> dict[str, object]:
    code = main([*argv, "--quiet", "--json", "--provider", "cpu"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    result: dict[str, object] = json.loads(captured.out)
    return result


def _shards(
    folder: Path, model: Path, out: Path, capsys: pytest.CaptureFixture[str], n: int = 3, *extra: str
) -> list[Path]:
    files = []
    for k in range(n):
        part = out / f"part-{k}.npz"
        argv = ["embed", str(folder), "-o", str(part), "-m", str(model), "--shard", f"{k}/{n}", *extra]
        summary = _embed(argv, capsys)
        assert summary["shard"] == f"{k}/{n}"
        files.append(part)
    return files


def test_three_shards_merged_equal_one_unsharded_run_bit_for_bit(
    folder: Path, models: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # One image a model call in both runs: onnxruntime's matrix kernels may round the last bit
    # differently for another batch size, which is the engine's doing, not the merge's.
    whole = tmp_path / "whole.npz"
    _embed(["embed", str(folder), "-o", str(whole), "-m", str(models["a"]), "--batch-size", "1"], capsys)
    parts = _shards(folder, models["a"], tmp_path, capsys, 3, "--batch-size", "1")
    sizes = [len(load_embeddings(p)) for p in parts]
    assert sum(sizes) == 21 and all(0 < s < 21 for s in sizes)
    for k, part in enumerate(parts):
        assert all(shard_of(p, 3) == k for p in load_embeddings(part).paths)

    merged = tmp_path / "merged.npz"
    code = main(["merge", str(merged), *map(str, reversed(parts)), "--json"])
    summary = json.loads(capsys.readouterr().out)
    assert code == 0 and summary["images"] == 21 and summary["per_shard"] == sizes[::-1]
    with np.load(whole) as a, np.load(merged) as b:
        assert sorted(a.files) == sorted(b.files)
        for key in a.files:
            assert a[key].dtype == b[key].dtype and a[key].shape == b[key].shape, key
            assert a[key].tobytes() == b[key].tobytes(), key
    assert load_embeddings(merged).paths[0] == "artist_0/p03.png"
    # With the default batches the shards' calls hold other images: equal to float32 rounding
    # (the tiny model's reductions differ by up to about 5e-6 between batch sizes).
    (tmp_path / "batched").mkdir()
    batched = _shards(folder, models["a"], tmp_path / "batched", capsys, 3)
    again = merge_embeddings(tmp_path / "batched.npz", batched).embeddings
    reference = load_embeddings(whole)
    assert again.paths == reference.paths
    np.testing.assert_allclose(again.vectors, reference.vectors, rtol=0, atol=2e-5)


def test_a_shard_is_resumable_on_its_own(
    folder: Path, models: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    part = tmp_path / "part.npz"
    argv = ["embed", str(folder), "-o", str(part), "-m", str(models["a"]), "--shard", "1/3"]
    first = _embed(argv, capsys)
    again = _embed([*argv, "--resume"], capsys)
    assert again["embedded"] == 0 and again["resumed"] == first["embedded"] == len(load_embeddings(part))
    assert not partial_path(part).exists()


def test_merge_refuses_shards_of_two_models(
    folder: Path, models: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    a = _embed(
        ["embed", str(folder), "-o", str(tmp_path / "a.npz"), "-m", str(models["a"]), "--shard", "0/2"],
        capsys,
    )
    _embed(
        ["embed", str(folder), "-o", str(tmp_path / "b.npz"), "-m", str(models["b"]), "--shard", "1/2"],
        capsys,
    )
    with pytest.raises(DataError, match=r"b\.npz was made by model .*b-weights.*a\.npz by .*a-weights"):
        merge_embeddings(tmp_path / "m.npz", [tmp_path / "a.npz", tmp_path / "b.npz"])
    assert not (tmp_path / "m.npz").exists() and a["embedded"]
    # The same model with other --views is another view policy: refused too.
    _embed(
        [
            "embed",
            str(folder),
            "-o",
            str(tmp_path / "v.npz"),
            "-m",
            str(models["a"]),
            "--shard",
            "1/2",
            "--views",
            "2",
        ],
        capsys,
    )
    code = main(["merge", str(tmp_path / "m.npz"), str(tmp_path / "a.npz"), str(tmp_path / "v.npz")])
    err = capsys.readouterr().err
    assert code == 1 and "crops=2" in err and "cannot be merged" in err
    assert not (tmp_path / "m.npz").exists()


def test_merge_refuses_overlapping_shards_naming_the_path_and_both_files(
    folder: Path, models: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    parts = _shards(folder, models["a"], tmp_path, capsys, n=2)
    copy = tmp_path / "copy.npz"
    shutil.copy(parts[1], copy)
    first = load_embeddings(parts[1]).paths[0]
    with pytest.raises(DataError) as caught:
        merge_embeddings(tmp_path / "m.npz", [parts[0], parts[1], copy])
    message = str(caught.value)
    assert f"{first!r} is in both {parts[1]} and {copy}" in message
    with pytest.raises(DataError, match="given twice"):
        merge_embeddings(tmp_path / "m.npz", [parts[0], parts[0]])
    assert not (tmp_path / "m.npz").exists()


def test_merge_refuses_an_existing_output_without_force(
    folder: Path, models: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    parts = _shards(folder, models["a"], tmp_path, capsys, n=2)
    out = tmp_path / "m.npz"
    out.write_bytes(b"keep me")
    with pytest.raises(OutputError, match="already exists; pass force=True"):
        merge_embeddings(out, parts)
    assert out.read_bytes() == b"keep me"
    code = main(["merge", str(out), *map(str, parts)])
    assert code == 1 and "already exists" in capsys.readouterr().err
    with pytest.raises(OutputError, match="is the shard file"):
        merge_embeddings(parts[0], parts, force=True)
    result = merge_embeddings(out, parts, force=True)
    assert len(load_embeddings(out)) == 21 == len(result.embeddings) and result.notes == []


def test_merge_lists_every_shards_unreadable_images_as_one_run_does(
    folder: Path, models: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    collection = tmp_path / "collection"
    shutil.copytree(folder, collection)
    broken = [f"artist_{i % 3}/broken_{i}.jpg" for i in range(6)]
    for name in broken:
        (collection / name).write_bytes(b"not a jpeg")
    assert len({shard_of(name, 3) for name in broken}) > 1  # the failures fall in several shards
    whole = tmp_path / "whole.npz"
    _embed(["embed", str(collection), "-o", str(whole), "-m", str(models["a"])], capsys)
    (tmp_path / "parts").mkdir()
    parts = _shards(collection, models["a"], tmp_path / "parts", capsys, 3)

    merged = tmp_path / "merged.npz"
    code = main(["merge", str(merged), *map(str, parts), "--json"])
    summary = json.loads(capsys.readouterr().out)
    assert code == 0 and summary["images"] == 21 and summary["unreadable"] == 6
    assert summary["errors_csv"] == str(errors_path(merged))
    assert read_errors(errors_path(merged)) == read_errors(errors_path(whole))
    assert [path for path, _ in read_errors(errors_path(merged))] == sorted(broken)

    # Merging shards that read everything removes the earlier list, which would now be wrong.
    clean = _shards(folder, models["a"], tmp_path, capsys, 3)
    result = merge_embeddings(merged, clean, force=True)
    assert result.unreadable == 0 and result.errors_csv is None and not errors_path(merged).exists()


def test_merge_refuses_a_damaged_error_list_naming_it_and_writes_nothing(
    folder: Path, models: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    parts = _shards(folder, models["a"], tmp_path, capsys, n=2)
    errors_path(parts[1]).write_text("path,cause\na.jpg,bad,extra\n", encoding="utf-8")
    out = tmp_path / "m.npz"
    code = main(["merge", str(out), *map(str, parts)])
    err = capsys.readouterr().err
    assert code == 1 and f"{errors_path(parts[1])}, row 2: expected path,cause" in err
    assert len(err.strip().splitlines()) == 1 and not out.exists()


def test_merge_refuses_a_progress_file_and_nothing(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="unfinished run"):
        merge_embeddings(tmp_path / "m.npz", [tmp_path / "part-0.partial.npz"])
    with pytest.raises(DataError, match="no shard files"):
        merge_embeddings(tmp_path / "m.npz", [])


def test_embed_shard_option_is_checked_by_the_parser(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        main(["embed", "dir", "--shard", "3/3"])
    assert caught.value.code == 2 and "shard '3/3': expected K/N" in capsys.readouterr().err


def test_a_shard_with_no_images_says_so(
    folder: Path, models: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    small = tmp_path / "small"
    small.mkdir()
    shutil.copy(folder / "p00.png", small / "p00.png")
    empty = next(k for k in range(4) if shard_of("p00.png", 4) != k)
    code = main(
        ["embed", str(small), "-o", str(tmp_path / "e.npz"), "-m", str(models["a"]), "--shard", f"{empty}/4"]
    )
    assert code == 1
    assert f"shard {empty}/4 of {small} holds none of its 1 images" in capsys.readouterr().err
