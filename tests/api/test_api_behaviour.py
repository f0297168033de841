"""The Python API owns what the commands do: inputs as sentence-transformers' ``encode`` takes them,
errors in the caller's words, one verdict per probability, the thread default and the memory check,
and ``score_pairs`` that counts what it scored and refuses what it cannot score."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from onnx_models import TEST_CALIBRATION, tiny_info, write_tiny_model
from PIL import Image

import painter_match
from painter_match.cli import main
from painter_match.errors import DataError, ImageLoadError, OutputError, UsageError
from painter_match.inference import runtime
from painter_match.inference.verdict import decision_threshold


def _painting(path: Path, seed: int, size: tuple[int, int] = (48, 40)) -> Path:
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 255, 3)
    pixels = np.clip(base + rng.normal(0, 40, (size[1], size[0], 3)), 0, 255).astype(np.uint8)
    Image.fromarray(pixels).save(path)
    return path


@pytest.fixture()
def place(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """PNG paintings (decoded the same from a file and from memory), a pairs file, a tiny model."""
    (tmp_path / "scans").mkdir()
    for i in range(4):
        _painting(tmp_path / "scans" / f"p{i}.png", seed=i)
    (tmp_path / "pairs.csv").write_text("index,image1,image2\n0,p0.png,p1.png\n1,p2.png,p3.png\n")
    monkeypatch.setenv("PAINTER_MATCH_MODEL", str(write_tiny_model(tmp_path / "tiny.onnx", info=tiny_info())))
    monkeypatch.chdir(tmp_path)
    return tmp_path


# --- inputs -------------------------------------------------------------------------------------


def test_one_input_gives_a_vector_and_a_list_a_matrix_whatever_the_kind(place: Path) -> None:
    model = painter_match.load()
    path = place / "scans" / "p0.png"
    from_str, from_path = model.embed(str(path)), model.embed(path)
    assert from_str.shape == (16,) and from_str.dtype == np.float32  # not 40 one-letter "files"
    np.testing.assert_array_equal(from_str, from_path)
    assert np.linalg.norm(from_str) == pytest.approx(1.0, abs=1e-5)
    with Image.open(path) as opened:
        image = opened.copy()
    pixels = np.asarray(image)
    np.testing.assert_allclose(model.embed(image), from_str, atol=1e-6)
    np.testing.assert_allclose(model.embed(pixels), from_str, atol=1e-6)
    mixed = model.embed([path, image, pixels, str(place / "scans" / "p1.png")])
    assert mixed.shape == (4, 16) and mixed.dtype == np.float32
    np.testing.assert_allclose(mixed[:3], np.stack([from_str] * 3), atol=2e-5)
    batch = model.embed(np.stack([pixels, pixels]))  # [N, H, W, 3]: a list of N images
    assert batch.shape == (2, 16)
    grey = model.embed(image.convert("L"))  # converted as a decoded grey file would be
    assert grey.shape == (16,) and not np.allclose(grey, from_str)
    assert model.embed([]).shape == (0, 16)


def test_normalize_false_keeps_the_mean_of_the_views(place: Path) -> None:
    model = painter_match.load()
    path = place / "scans" / "p0.png"
    unit = model.embed(path, views=4)
    mean = model.embed(path, views=4, normalize=False)
    norm = float(np.linalg.norm(mean))
    assert norm < 0.9999  # five views that disagree average to a shorter vector
    np.testing.assert_allclose(mean / norm, unit, atol=1e-5)


@pytest.mark.parametrize(
    ("value", "error", "words"),
    [
        (b"\xff\xd8" * 900_000, TypeError, "bytes of 1,800,000 bytes is not an image input"),
        ([Path("a.png"), 3], TypeError, "images[1]: int is not an image input"),
        (
            np.zeros((3, 32, 32), np.uint8),
            ValueError,
            "images: an image array must be uint8 pixels [H, W, 3]",
        ),
        (np.zeros((32, 32, 3), np.float32), ValueError, "got <float32 array [32, 32, 3]>"),
        ([np.zeros((2, 2, 2, 3), np.uint8)], TypeError, "images[0]: an array of shape [2, 2, 2, 3]"),
        ("", ValueError, "images: an empty path"),
    ],
)
def test_a_bad_input_is_named_by_its_position_and_kind_in_one_short_line(
    place: Path, value: object, error: type[Exception], words: str
) -> None:
    model = painter_match.load()
    with pytest.raises(error) as caught:
        model.embed(value)  # type: ignore[arg-type]
    message = str(caught.value)
    assert words in message and len(message) < 300 and "\n" not in message


def test_a_missing_file_is_named_whole(place: Path) -> None:
    with pytest.raises(ImageLoadError) as caught:
        painter_match.load().embed("absent.jpg")
    assert str(caught.value) == "absent.jpg: file not found"


def test_same_artist_takes_one_painting_each(place: Path) -> None:
    model = painter_match.load()
    with pytest.raises(TypeError, match="a: one painting, got a list of 2"):
        model.same_artist(["scans/p0.png", "scans/p1.png"], "scans/p2.png")  # type: ignore[arg-type]


# --- the verdict ---------------------------------------------------------------------------------


def test_the_verdict_follows_the_probability_not_the_stored_best_accuracy_cut(
    place: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    model = painter_match.load()
    a, b = place / "scans" / "p0.png", place / "scans" / "p1.png"
    similarity = model.similarity(a, b)
    # A calibration that crosses one half just above this pair's similarity, whose stored
    # best-accuracy cut lies below it: the cut alone would call the pair "same" at P < 0.5.
    calibration = replace(TEST_CALIBRATION, intercept=-8.0 * (similarity + 0.01), threshold=similarity - 0.05)
    skewed = painter_match.load(
        write_tiny_model(place / "skewed.onnx", info=replace(tiny_info(tag="s"), calibration=calibration))
    )
    result = skewed.same_artist(a, b)
    assert result.similarity == pytest.approx(similarity, abs=1e-6)
    assert result.probability < 0.5 and result.verdict == "different artists" and not result.same_artist
    assert result.threshold == pytest.approx(similarity + 0.01) == decision_threshold(calibration)
    assert result.similarity < result.threshold
    itself = skewed.same_artist(a, a)
    assert itself.probability >= 0.5 and itself.same_artist and itself.similarity >= itself.threshold
    # The command prints the same object: its --json and the verdict agree.
    assert main(["verify", str(a), str(b), "-m", str(place / "skewed.onnx"), "--json", "-q"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["same_artist"] is False and printed["probability"] < 0.5
    assert (
        printed["threshold"] == pytest.approx(result.threshold)
        and printed["similarity"] < printed["threshold"]
    )


def test_verify_json_is_the_result_object(place: Path, capsys: pytest.CaptureFixture[str]) -> None:
    a, b = "scans/p0.png", "scans/p1.png"
    result = painter_match.load().same_artist(a, b, prior=0.1)
    assert main(["verify", a, b, "--json", "--prior", "0.1", "-q"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert {k: printed[k] for k in result.to_dict()} == json.loads(json.dumps(result.to_dict()))
    assert printed["same_artist"] == (printed["probability"] >= 0.5)
    assert main(["verify", a, b, "--prior", "0.1", "-q"]) == 0
    assert capsys.readouterr().out.strip() == str(result)


# --- errors in the caller's words ------------------------------------------------------------------


def test_running_twice_names_python_arguments_to_python_and_flags_to_the_cli(
    place: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    model = painter_match.load()
    model.embed_folder("scans", "scans.npz")
    with pytest.raises(DataError) as caught:
        model.embed_folder("scans", "scans.npz")
    assert "pass resume=True" in str(caught.value) and "or force=True to start over" in str(caught.value)
    assert "--" not in str(caught.value)
    assert main(["embed", "scans", "-o", "scans.npz", "-q"]) == 1
    err = capsys.readouterr().err
    assert "pass --resume" in err and "or --force to start over" in err and "=True" not in err

    painter_match.score_pairs("pairs.csv", "out.csv", "scans.npz")
    with pytest.raises(OutputError, match=r"already exists; pass force=True to replace it"):
        painter_match.score_pairs("pairs.csv", "out.csv", "scans.npz")
    assert painter_match.score_pairs("pairs.csv", "out.csv", "scans.npz", force=True).scored == 2


def test_score_pairs_never_writes_over_its_own_pairs_file(place: Path) -> None:
    painter_match.load().embed_folder("scans", "scans.npz")
    before = (place / "pairs.csv").read_bytes()
    for force in (False, True):
        with pytest.raises(OutputError, match="is the pairs file") as caught:
            painter_match.score_pairs("pairs.csv", "pairs.csv", "scans.npz", force=force)
        assert "even with force=True" in str(caught.value) and "even with --force" in caught.value.for_cli()
    assert (place / "pairs.csv").read_bytes() == before


def test_the_memory_check_speaks_python_to_python(place: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(runtime, "machine_memory", lambda: 256 << 20)
    model = painter_match.load()
    with pytest.raises(UsageError) as caught:
        model.embed(["scans/p0.png"] * 64, views=64, batch_size=64)  # refused before any decoding
    assert str(caught.value).startswith("views=64 with batch_size=64 on this 32 px model needs about")
    assert "lower batch_size to 26 or less" in str(caught.value)
    assert caught.value.for_cli().startswith("--views 64 with --batch-size 64")
    assert model.embed("scans/p0.png", views=64).shape == (16,)  # one image: a batch of one fits


def test_the_thread_default_is_the_apis(place: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(runtime.os, "cpu_count", lambda: 6)
    assert runtime.default_threads() == 3
    session = painter_match.load().loaded.session
    assert session.get_session_options().intra_op_num_threads == 3
    assert painter_match.load(threads=1).loaded.session.get_session_options().intra_op_num_threads == 1


def test_one_prior_rule_with_and_without_a_reference(place: Path) -> None:
    hand_set = replace(tiny_info(tag="h"), calibration=replace(TEST_CALIBRATION, positive_share=0.0))
    model = painter_match.load(write_tiny_model(place / "hand.onnx", info=hand_set))
    with pytest.raises(DataError) as caught:
        model.same_artist("scans/p0.png", "scans/p1.png", prior=0.1)
    assert "records no share of same-artist pairs" in str(caught.value) and "prior=0.1" in str(caught.value)
    assert "leave out --prior" in caught.value.for_cli()


# --- score_pairs counts what it scored -------------------------------------------------------------


def test_score_pairs_counts_scored_and_filled_and_refuses_nothing_to_score(place: Path) -> None:
    painter_match.load().embed_folder("scans", "scans.npz")
    (place / "some.csv").write_text("index,image1,image2\n0,p0.png,p1.png\n1,p0.png,gone.png\n")
    summary = painter_match.score_pairs("some.csv", "some.out.csv", "scans.npz")
    assert (summary.pairs, summary.scored, summary.filled, summary.missing_images) == (2, 1, 1, 1)
    assert str(summary) == (
        "2 pairs -> some.out.csv: 1 scored, 1 filled with 0.5 (1 images without an embedding, e.g. gone.png)"
    )
    assert summary.to_dict()["scored"] == 1

    (place / "none.csv").write_text("index,image1,image2\n0,x.png,y.png\n1,y.png,z.png\n")
    with pytest.raises(DataError) as caught:
        painter_match.score_pairs(
            "none.csv", "none.out.csv", names=["p0.png"], vectors=np.eye(1, 16), calibration=TEST_CALIBRATION
        )
    assert "none of the 2 pairs of none.csv could be scored" in str(caught.value)
    assert "pass missing='fill'" in str(caught.value) and "--missing fill" in caught.value.for_cli()
    assert not (place / "none.out.csv").exists()
    filled = painter_match.score_pairs(
        "none.csv",
        "none.out.csv",
        names=["p0.png"],
        vectors=np.eye(1, 16),
        calibration=TEST_CALIBRATION,
        missing="fill",
    )
    assert (filled.scored, filled.filled) == (0, 2)
    assert (place / "none.out.csv").read_text().splitlines() == ["index,sameArtist", "0,0.5", "1,0.5"]


def test_score_with_images_is_one_api_call_and_matches_the_embeddings_path(place: Path) -> None:
    model = painter_match.load()
    from_images = model.score_pairs("pairs.csv", "a.csv", "scans", prior=0.2)
    model.embed_folder("scans", "scans.npz")
    from_file = painter_match.score_pairs("pairs.csv", "b.csv", "scans.npz", model=model, prior=0.2)
    assert from_images.scored == from_file.scored == 2 and from_images.prior == 0.2
    assert from_file.model is not None and from_file.model["path"] == str(model.path)
    a = [float(line.split(",")[1]) for line in (place / "a.csv").read_text().splitlines()[1:]]
    b = [float(line.split(",")[1]) for line in (place / "b.csv").read_text().splitlines()[1:]]
    np.testing.assert_allclose(a, b, atol=1e-5)
    other = painter_match.load(write_tiny_model(place / "other.onnx", info=tiny_info(tag="o"), seed=1))
    with pytest.raises(DataError, match="made by model"):
        painter_match.score_pairs("pairs.csv", "c.csv", "scans.npz", model=other)


def test_similar_is_one_call(place: Path) -> None:
    model = painter_match.load()
    model.embed_folder("scans", "scans.npz")
    (found,) = painter_match.similar("p0.png", "scans.npz", k=2)
    assert found.row == 0 and len(found.neighbours) == 2 and found.votes == ()
    assert all(n.probability is not None and 0 <= n.probability <= 1 for n in found.neighbours)
    outside = place / "q.png"
    _painting(outside, seed=0)  # p0's twin, outside the file: embedded with the model
    (twin,) = painter_match.similar(outside, "scans.npz", k=1, model=model)
    assert twin.row is None and twin.neighbours[0].path == "p0.png"
    assert twin.neighbours[0].similarity == pytest.approx(1.0, abs=1e-4)
