"""What the painting finder did, as the outputs record it: the embeddings file's columns (kept by
resumed and sharded runs), the finder's mode in the file's identity (a resume or merge with
another mode refused, files from before it read as ``off``), ``embed --json`` and ``verify
--json`` / ``--html`` (the outline drawn on the photograph), and the options of ``similar`` and
``evaluate``. A tiny hand-built ONNX model and seeded synthetic gallery photos (`gallery_synth`)."""

from __future__ import annotations

import html
import json
import re
import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from onnx_models import tiny_info, write_tiny_model

pytest.importorskip("cv2", reason="the painting finder needs opencv-python-headless")

import painter_match  # noqa: E402
from painter_match.cli import main  # noqa: E402
from painter_match.data.gallery_synth import composite, painting  # noqa: E402
from painter_match.data.painting_finder import FoundPainting, quad_iou  # noqa: E402
from painter_match.data.views import Views  # noqa: E402
from painter_match.errors import DataError, UsageError  # noqa: E402
from painter_match.inference.embeddings import (  # noqa: E402
    FORMAT_VERSION,
    Embeddings,
    EmbeddingSource,
    load_embeddings,
    partial_path,
    save_embeddings,
    space_of,
)
from painter_match.inference.painting_records import (  # noqa: E402
    NOT_LOOKED,
    from_arrays,
    reason_kind,
    summary,
    to_arrays,
)
from painter_match.inference.reference.set import build_reference, check_reference  # noqa: E402
from painter_match.inference.scale_out.shards import merge_embeddings  # noqa: E402

PHOTO_SEEDS = (0, 1)  # seeded composites that `auto` crops (IoU >= 0.9 against their frame)


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_tiny_model(tmp_path_factory.mktemp("model") / "a.onnx", info=tiny_info(tag="a"))


@pytest.fixture(scope="module")
def gallery(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two photos of a framed painting on a wall (JPEG, so the finder searches a drafted decode
    and must scale its outline back to the original's pixels) and two catalogue images."""
    folder = tmp_path_factory.mktemp("gallery") / "images"
    folder.mkdir()
    for seed in PHOTO_SEEDS:
        composite(seed, size=(640, 480)).image.save(folder / f"photo{seed}.jpg", quality=92)
    painting(7, 200, 260).save(folder / "catalogue7.png")
    painting(8, 240, 180).save(folder / "catalogue8.png")
    return folder


def _run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(argv)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _error_line(err: str) -> str:
    lines = err.splitlines()
    # "painter-match: error: ...", or "painter-match CMD: error: ..." for a usage error.
    assert lines and re.match(r"painter-match( \w+)?: error: ", lines[-1]) and "Traceback" not in err, err
    assert sum(": error: " in line for line in lines) == 1, err
    return lines[-1]


def _embed(folder: Path, out: Path, model: Path, *more: str) -> None:
    assert main(["embed", str(folder), "-o", str(out), "-m", str(model), "--quiet", *more]) == 0


def _old_file(embeddings: Embeddings, path: Path) -> Path:
    """``embeddings`` written as painter-match wrote files before the finder: no mode, no records."""
    record = json.loads(embeddings.source.to_json())
    del record["find_painting"]
    np.savez(
        path,
        paths=np.asarray(embeddings.paths, dtype=np.str_),
        vectors=embeddings.vectors,
        model=np.asarray(json.dumps(record, sort_keys=True)),
        root=np.asarray(embeddings.root),
    )
    return path


# --- the embeddings file ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def auto_file(gallery: Path, model: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("auto") / "e.npz"
    _embed(gallery, out, model)  # the default: auto
    return out


def test_embed_records_each_image_in_the_file(auto_file: Path) -> None:
    loaded = load_embeddings(auto_file)
    assert loaded.source.find_painting == "auto" and loaded.source.painting_edge == "frame"
    assert loaded.paintings is not None and len(loaded.paintings) == len(loaded) == 4
    with np.load(auto_file) as data:
        assert {"painting_quad", "painting_reason", "painting_reasons"} <= set(data.files)
    for path, found in zip(loaded.paths, loaded.paintings):
        assert found is not None and found.mode == "auto"
        if path.startswith("photo"):
            truth = composite(int(path[5]), size=(640, 480))
            assert found.cropped and found.quad is not None and found.image_size == (640, 480)
            assert quad_iou(found.quad, truth.frame) >= 0.9, path  # in the original's pixels
            assert found.reason == "painting on a wall"
        else:
            assert not found.cropped and found.quad is None and found.reason


def test_embed_json_counts_cropped_and_whole(
    gallery: Path, model: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = _run(
        ["embed", str(gallery), "-o", str(tmp_path / "e.npz"), "-m", str(model), "--json", "--quiet"], capsys
    )
    assert code == 0
    counts = json.loads(out)["find_painting"]
    assert counts["find_painting"] == "auto" and counts["painting_edge"] == "frame"
    assert (counts["images"], counts["cropped"], counts["whole"]) == (4, 2, 2)
    assert sum(counts["whole_because"].values()) == 2
    # The text output says the same in one line.
    code, out, _ = _run(
        ["embed", str(gallery), "-o", str(tmp_path / "e.npz"), "-m", str(model), "--force", "--quiet"], capsys
    )
    assert code == 0 and "painting found and cropped in 2 of 4 images; 2 left whole" in out


def test_off_writes_no_records_and_keeps_the_old_identity(gallery: Path, model: Path, tmp_path: Path) -> None:
    out = tmp_path / "off.npz"
    _embed(gallery, out, model, "--find-painting", "off")
    loaded = load_embeddings(out)
    assert loaded.source.find_painting == "off" and loaded.paintings is None
    with np.load(out) as data:
        assert not any(key.startswith("painting_") for key in data.files)
    info, views = loaded.source.info, loaded.source.views
    assert loaded.source.identity == f"{info.identity}/crops={views.crops}/scale={views.crop_scale:g}"
    assert load_embeddings(out).source.identity == loaded.source.space


def test_identity_includes_the_mode_and_edge() -> None:
    info = tiny_info()
    off = EmbeddingSource(info, Views())
    auto = EmbeddingSource(info, Views(), "auto", "frame")
    identities = {
        off.identity,
        auto.identity,
        EmbeddingSource(info, Views(), "on", "frame").identity,
        EmbeddingSource(info, Views(), "auto", "canvas").identity,
    }
    assert len(identities) == 4
    assert EmbeddingSource(info, Views(), "off", "canvas").identity == off.identity  # no edge when off
    assert space_of(auto.identity) == auto.space == off.identity
    back = EmbeddingSource.from_json(auto.to_json(), "x")
    assert (back.find_painting, back.painting_edge, back.identity) == ("auto", "frame", auto.identity)


def test_a_file_from_before_the_finder_loads_as_off(auto_file: Path, tmp_path: Path) -> None:
    old = _old_file(load_embeddings(auto_file), tmp_path / "old.npz")
    loaded = load_embeddings(old)
    assert loaded.source.find_painting == "off" and loaded.paintings is None
    assert json.loads(loaded.source.to_json())["format_version"] == FORMAT_VERSION
    assert loaded.source.identity == loaded.source.space


def test_a_bad_mode_or_bad_records_are_one_line_errors(auto_file: Path, tmp_path: Path) -> None:
    loaded = load_embeddings(auto_file)
    record = json.loads(loaded.source.to_json())
    record["find_painting"] = {"mode": "sometimes", "edge": "frame"}
    with np.load(auto_file) as data:
        arrays = {key: data[key] for key in data.files}
    np.savez(tmp_path / "mode.npz", **{**arrays, "model": np.asarray(json.dumps(record))})
    with pytest.raises(DataError, match=r"bad model record .*find_painting must be one of"):
        load_embeddings(tmp_path / "mode.npz")
    np.savez(tmp_path / "rows.npz", **{**arrays, "painting_reason": arrays["painting_reason"][:2]})
    with pytest.raises(DataError, match=r"rows.npz: bad painting records \(its painting_reason is"):
        load_embeddings(tmp_path / "rows.npz")
    codes = arrays["painting_reason"].copy()
    codes[0] = 99
    np.savez(tmp_path / "code.npz", **{**arrays, "painting_reason": codes})
    with pytest.raises(DataError, match="indices go outside"):
        load_embeddings(tmp_path / "code.npz")


def test_records_round_trip_through_the_columns() -> None:
    quad = ((10.0, 12.5), (90.0, 11.0), (91.0, 70.0), (9.5, 71.0))
    records: list[FoundPainting | None] = [
        FoundPainting("on", "canvas", True, "canvas inside its frame", quad, quad, (100, 80)),
        None,
        FoundPainting("on", "canvas", False, "no painting outline found", None, None, (30, 20)),
        FoundPainting("on", "canvas", True, "canvas inside its frame", quad, None, (100, 80)),
    ]
    arrays = to_arrays(records)
    assert arrays["painting_reasons"].tolist() == ["canvas inside its frame", "no painting outline found"]
    back = from_arrays(arrays, 4, "on", "canvas")
    assert back[1] is None
    for before, after in zip(records, back):
        if before is not None:
            assert after is not None
            assert (after.cropped, after.reason, after.image_size) == (
                before.cropped,
                before.reason,
                before.image_size,
            )
            assert after.quad == before.quad and after.outline == before.outline
    with pytest.raises(ValueError, match="holds painting records but says find_painting 'off'"):
        from_arrays(arrays, 4, "off", "frame")


def test_reasons_group_without_their_figures() -> None:
    assert reason_kind("the outline covers 79% of the image (auto crops at most 70%)") == (
        "the outline covers N% of the image"
    )
    assert reason_kind("image too small to look for a painting (20x20)") == (
        "image too small to look for a painting"
    )
    found = [
        FoundPainting("auto", "frame", False, "the outline covers 79% of the image (auto crops at most 70%)"),
        FoundPainting("auto", "frame", False, "the outline covers 93% of the image (auto crops at most 70%)"),
        FoundPainting("auto", "frame", True, "painting on a wall", ((0, 0), (1, 0), (1, 1), (0, 1))),
        None,
    ]
    counts = summary(found, "auto", "frame")
    assert (counts["cropped"], counts["whole"]) == (1, 3)
    assert counts["whole_because"] == {"the outline covers N% of the image": 2, NOT_LOOKED: 1}


# --- resume and merge ---------------------------------------------------------------------------


def test_resume_with_another_mode_is_refused_naming_find_painting(
    auto_file: Path, gallery: Path, model: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # A file from before the finder holds whole images: resuming it with today's default (auto)
    # would mix them with cropped ones.
    out = tmp_path / "e.npz"
    _old_file(load_embeddings(auto_file), out)
    code, _, err = _run(["embed", str(gallery), "-o", str(out), "-m", str(model), "--resume"], capsys)
    line = _error_line(err)
    assert code != 0 and "--find-painting off" in line and "--force" in line
    # With the mode it was made with, it resumes (all four already there).
    code, out_text, _ = _run(
        [
            "embed",
            str(gallery),
            "-o",
            str(out),
            "-m",
            str(model),
            "--resume",
            "--find-painting",
            "off",
            "--json",
        ],
        capsys,
    )
    assert code == 0 and json.loads(out_text)["resumed"] == 4
    # The API names its own arguments.
    with pytest.raises(
        DataError, match=r"find_painting='off', not find_painting='on', painting_edge='frame'"
    ):
        painter_match.load(model).embed_folder(gallery, out, resume=True, find_painting="on")


def test_a_resumed_run_keeps_the_records(auto_file: Path, gallery: Path, model: Path, tmp_path: Path) -> None:
    full = load_embeddings(auto_file)
    assert full.paintings is not None
    out = tmp_path / "e.npz"
    keep = [0, 2]  # a photo and a catalogue image, as if the run had stopped after them
    stopped = replace(
        full,
        paths=[full.paths[i] for i in keep],
        vectors=full.vectors[keep],
        stamps=full.stamps[keep] if full.stamps is not None else None,
        paintings=[full.paintings[i] for i in keep],
    )
    save_embeddings(partial_path(out), stopped)
    _embed(gallery, out, model, "--resume")
    resumed = load_embeddings(out)
    assert resumed.paths == full.paths and resumed.paintings is not None
    for before, after in zip(full.paintings, resumed.paintings):
        assert before is not None and after is not None
        assert (after.cropped, after.reason, after.quad) == (before.cropped, before.reason, before.quad)


def test_merged_shards_keep_the_records_and_refuse_another_mode(
    auto_file: Path, gallery: Path, model: Path, tmp_path: Path
) -> None:
    shards = [tmp_path / f"s{k}.npz" for k in range(2)]
    for k, shard in enumerate(shards):
        _embed(gallery, shard, model, "--shard", f"{k}/2")
    merged = merge_embeddings(tmp_path / "all.npz", shards).embeddings
    full = load_embeddings(auto_file)
    assert merged.paths == full.paths and merged.paintings is not None and full.paintings is not None
    assert [p.quad if p else None for p in merged.paintings] == [
        p.quad if p else None for p in full.paintings
    ]
    assert load_embeddings(tmp_path / "all.npz").paintings is not None
    # Shard 1 embedded with the finder off cannot join shard 0 embedded with auto.
    _embed(gallery, tmp_path / "off1.npz", model, "--shard", "1/2", "--find-painting", "off")
    with pytest.raises(
        DataError, match=r"--find-painting off, but .*--find-painting auto.* same --find-painting"
    ):
        merge_embeddings(tmp_path / "mixed.npz", [shards[0], tmp_path / "off1.npz"])


def test_references_check_the_model_and_views_not_the_mode(auto_file: Path, tmp_path: Path) -> None:
    embeddings = load_embeddings(auto_file)
    labels = {
        path: ("photographer" if path.startswith("photo") else "cataloguer") for path in embeddings.paths
    }
    reference = build_reference(embeddings, labels, digests=False)
    assert reference.source == embeddings.source.identity  # it records how its images were embedded
    source = embeddings.source
    # The same model and views, whatever the finder did to the paintings scored with it.
    for mode in ("auto", "on", "off"):
        check_reference(
            reference, EmbeddingSource(source.info, source.views, mode).identity, "ref", fitted=False
        )
    # A reference made before the finder (an identity without a mode) serves an auto file too.
    check_reference(replace(reference, source=source.space), source.identity, "ref", fitted=False)
    with pytest.raises(DataError, match="make the reference again"):
        check_reference(
            reference, EmbeddingSource(tiny_info(tag="b"), source.views).identity, "ref", fitted=False
        )
    with pytest.raises(DataError, match="make the reference again"):
        check_reference(reference, EmbeddingSource(source.info, Views(crops=4)).identity, "ref", fitted=False)


# --- verify -------------------------------------------------------------------------------------


def test_verify_json_gives_both_records(
    gallery: Path, model: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    photo, catalogue = gallery / "photo0.jpg", gallery / "catalogue7.png"
    code, out, _ = _run(["verify", str(photo), str(catalogue), "-m", str(model), "--json", "--quiet"], capsys)
    assert code == 0
    result = json.loads(out)
    assert result["find_painting"] == "auto" and result["painting_edge"] == "frame"
    first, second = result["paintings"]
    assert first["cropped"] and first["image_size"] == [640, 480] and len(first["quad"]) == 4
    assert quad_iou(first["quad"], composite(0, size=(640, 480)).frame) >= 0.9
    assert not second["cropped"] and second["quad"] is None and second["reason"]
    code, out, _ = _run(
        [
            "verify",
            str(photo),
            str(catalogue),
            "-m",
            str(model),
            "--json",
            "--quiet",
            "--find-painting",
            "off",
        ],
        capsys,
    )
    result = json.loads(out)
    assert result["find_painting"] == "off" and result["painting_edge"] is None
    assert [p["reason"] for p in result["paintings"]] == [NOT_LOOKED, NOT_LOOKED]
    # The API's result carries the records themselves.
    same = painter_match.load(model).same_artist(photo, catalogue)
    assert same.paintings[0] is not None and same.paintings[0].cropped
    assert same.paintings[1] is not None and not same.paintings[1].cropped


def test_verify_html_draws_the_outline_on_the_photo(
    gallery: Path, model: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    photo, catalogue = gallery / "photo1.jpg", gallery / "catalogue8.png"
    page = tmp_path / "v.html"
    code, out, _ = _run(
        ["verify", str(photo), str(catalogue), "-m", str(model), "--html", str(page), "--json", "--quiet"],
        capsys,
    )
    assert code == 0
    quad = json.loads(out)["paintings"][0]["quad"]
    text = page.read_text(encoding="utf-8")
    polygons = re.findall(
        r'<svg class="outline" viewBox="0 0 (\d+) (\d+)"[^>]*><polygon points="([^"]+)"/>', text
    )
    assert len(polygons) == 1, "one photograph, one outline; the catalogue image has none"
    width, height, points = polygons[0]
    drawn = np.array([[float(v) for v in corner.split(",")] for corner in points.split()])
    scale = np.array([int(width) / 640, int(height) / 480])
    np.testing.assert_allclose(drawn, np.asarray(quad) * scale, atol=0.1)
    assert int(width) <= 400 and np.all(drawn >= -1) and np.all(drawn <= [int(width) + 1, int(height) + 1])
    notes = [
        html.unescape(n)
        for n in re.findall(r'<span class="finder [a-z]+" data-cropped="[a-z]+">([^<]+)', text)
    ]
    assert notes[0].startswith("painting found (painting on a wall)")
    assert notes[1].startswith("whole image (") and notes[1].endswith(")")


# --- similar and evaluate -----------------------------------------------------------------------


def test_similar_embeds_a_query_as_the_file_was_unless_told(
    auto_file: Path, gallery: Path, model: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from painter_match.inference.neighbours import similar

    query = tmp_path / "query.jpg"
    shutil.copy(gallery / "photo0.jpg", query)
    opened = painter_match.load(model)
    asked: list[tuple[object, object]] = []
    embed = type(opened).embed

    def recording(self: painter_match.Model, *args: object, **kwargs: object) -> np.ndarray:
        asked.append((kwargs.get("find_painting"), kwargs.get("painting_edge")))
        return embed(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(type(opened), "embed", recording)
    similar(str(query), auto_file, k=2, model=opened)
    off = tmp_path / "off.npz"
    _old_file(load_embeddings(auto_file), off)
    similar(str(query), off, k=2, model=opened)
    similar(str(query), off, k=2, model=opened, find_painting="on", painting_edge="canvas")
    assert asked == [("auto", "frame"), ("off", "frame"), ("on", "canvas")]


def test_similar_command_takes_the_options(
    auto_file: Path, gallery: Path, model: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    query = tmp_path / "query.jpg"
    shutil.copy(gallery / "photo1.jpg", query)
    argv = ["similar", str(query), "--embeddings", str(auto_file), "-m", str(model), "-k", "2", "--json"]
    code, out, _ = _run([*argv, "--find-painting", "off", "--painting-edge", "canvas", "--quiet"], capsys)
    assert code == 0 and len(json.loads(out)["neighbours"]) == 2
    with pytest.raises(SystemExit) as stop:
        main([*argv, "--find-painting", "sometimes"])
    assert stop.value.code == 2 and "invalid choice: 'sometimes'" in capsys.readouterr().err


def test_evaluate_takes_the_options(
    synth_dir: Path, model: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = [
        "evaluate",
        str(model),
        str(synth_dir),
        "--no-baseline",
        "--json",
        "--quiet",
        "--max-per-artist",
        "3",
    ]
    code, out, _ = _run([*argv, "--find-painting", "off"], capsys)
    assert code == 0
    counts = json.loads(out)["find_painting"]
    assert counts["find_painting"] == "off" and counts["cropped"] == 0 and counts["images"] > 0
    code, out, _ = _run([*argv, "--painting-edge", "canvas"], capsys)
    counts = json.loads(out)["find_painting"]
    assert code == 0 and counts["find_painting"] == "auto" and counts["painting_edge"] == "canvas"
    assert counts["cropped"] + counts["whole"] == counts["images"]
    # A trainer checkpoint embeds whole images: asking it to look is refused before it is read.
    code, _, err = _run(
        ["evaluate", str(tmp_path / "best.pt"), str(synth_dir), "--find-painting", "on", "--quiet"], capsys
    )
    assert (
        code != 0
        and "--find-painting on looks for paintings with an exported .onnx model only" in _error_line(err)
    )


def test_evaluate_api_refuses_a_mode_with_a_checkpoint_embedder(synth_dir: Path, tmp_path: Path) -> None:
    from painter_match.evaluation.evaluate import evaluate

    def never(pairs: object) -> object:
        raise AssertionError("the embedder must not run")

    with pytest.raises(UsageError, match=r"find_painting='auto' looks for paintings"):
        evaluate(tmp_path / "best.pt", synth_dir, embedder=never, find_painting="auto")  # type: ignore[arg-type]
