"""``painter_match.score_pairs``: a Kaggle submission from a pairs file, as ``painter-match score`` makes it.

The vectors come from an embeddings file (or ``names``, ``vectors`` and ``calibration`` in
memory), or, through `Model.score_pairs` (`score_images`), from the images the pairs name, each
resolved inside the folder (names that leave it are refused) and embedded once. With a labelled
reference set (``reference=``) each pair is scored by the reference's fitted pair model, from its
cosine and the two paintings' nearest reference artists; a painting whose very file, or a
near-duplicate of it, is in the reference is no evidence for itself. With ``prior=`` the
probabilities are moved to that share of same-artist pairs (`runtime.moved_to_prior`). The pairs
engine (`painter_match.inference.scoring.engine`) streams the pairs and writes the submission atomically.

Before any work the output is checked: an existing file is replaced only with ``force=True``,
and one of the run's own inputs (pairs, embeddings, solution, model, reference) never. A pairs
file none of whose pairs can be scored is refused unless ``missing="fill"`` is given.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from painter_match import atomic
from painter_match.data.images import normalise_name, resolve_inside
from painter_match.errors import DataError, UsageError
from painter_match.inference.calibration import Calibration
from painter_match.inference.collection import CollectionAdaptation, CollectionPolicy, adapt_for_model
from painter_match.inference.embeddings import Embeddings, EmbeddingSource, load_embeddings
from painter_match.inference.runtime import moved_to_prior, open_reference, reference_name
from painter_match.inference.scoring.engine import MISSING_FILL, Missing, ScoreSummary, unique_images
from painter_match.inference.scoring.engine import score_pairs as score_engine
from painter_match.progress import progress_bar

if TYPE_CHECKING:
    from painter_match.inference.api import Model
    from painter_match.inference.reference.set import Reference

# How many unavailable images a message names before it just counts.
EXAMPLES = 5
_IMAGES = ("images", "--images")


def score_pairs(
    pairs_csv: str | Path,
    out_csv: str | Path,
    embeddings: Embeddings | str | Path | None = None,
    *,
    names: Sequence[str] | None = None,
    vectors: np.ndarray | None = None,
    calibration: Calibration | None = None,
    model: Model | None = None,
    reference: Reference | str | Path | None = None,
    prior: float | None = None,
    missing: Missing | None = None,
    fill_value: float = 0.5,
    solution: str | Path | None = None,
    force: bool = False,
    show_progress: bool = False,
    query_digests: Sequence[str | None] | None = None,
    collection: str = "auto",
) -> ScoreSummary:
    """Score every pair of a Kaggle pairs file and write ``index,sameArtist`` in input order.

    Args:
        pairs_csv: ``index,image1,image2`` rows (extra columns are ignored).
        out_csv: the submission to write; replaced only once every row is written.
        embeddings: the paintings' embeddings (`painter_match.load_embeddings`, or its file, from
            ``painter-match embed`` of the folder the names are relative to); the calibration is
            the one stored with them. Or give ``names``, ``vectors`` and ``calibration``.
        names: the image names (as in the pairs file) that have embeddings.
        vectors: ``[len(names), D]`` L2-normalised embeddings, row i for ``names[i]``.
        calibration: turns a cosine similarity into P(same artist).
        model: when given, it must be the model that made ``embeddings`` (it is checked), and the
            summary records it.
        reference: a fitted labelled reference set (`painter_match.load_reference`, or its file)
            made by the model that made the embeddings: each pair is scored by its pair model.
        prior: the share of same-artist pairs among these pairs (e.g. 0.013 for Kaggle's test
            pairs): every probability is moved to it by Bayes' rule; the ranking does not change.
        missing: a pair whose image has no embedding: ``"fill"`` writes ``fill_value``,
            ``"error"`` stops naming the row, None (the default) fills but refuses a file none of
            whose pairs could be scored.
        fill_value: the probability written for such pairs; 0.5 says "no idea".
        solution: ground truth (``index,sameArtist``) for the ROC AUC of what was written.
        force: replace an existing ``out_csv``.
        show_progress: draw a progress bar on stderr.
        query_digests: with ``reference`` and names/vectors, each name's file digest
            (`painter_match.inference.reference.set.file_digest`), so that a painting whose very
            file is in the reference is no evidence for itself; an embeddings file whose folder
            is at hand gives them itself.
        collection: ``"auto"`` (the model's default: its embeddings centred on the mean of the
            collection's paintings, here every painting with an embedding, when the model states
            it and there are enough of them), ``"centre"`` or ``"none"``
            (`painter_match.inference.collection`). With ``reference`` the embeddings are compared
            as they are: the reference's pair model was fitted on plain cosines.

    Returns:
        The `ScoreSummary`: pairs written, how many scored and filled, the AUC, ...

    Raises:
        DataError: a bad pairs file (naming the row), embeddings of another model, a reference of
            another model, a calibration that cannot be moved to ``prior``, no pair scorable.
        OutputError: ``out_csv`` exists (without ``force``), is an input, or cannot be written.
        ValueError: inconsistent arguments (embeddings and names, ``prior`` outside (0, 1), ...).
    """
    file = Path(embeddings) if isinstance(embeddings, (str, Path)) else None
    _check_output(out_csv, force, pairs_csv, solution, model, reference, ("embeddings file", file))
    root: str | None = None
    identity: str | None = None
    record: dict[str, object] | None = model.record() if model is not None else None
    if embeddings is not None:
        if names is not None or vectors is not None or calibration is not None:
            raise ValueError("give embeddings, or names, vectors and calibration, not both")
        loaded = load_embeddings(file) if file is not None else embeddings
        what: object = file if file is not None else "the embeddings"
        if not isinstance(loaded, Embeddings) or len(loaded) == 0:
            raise DataError(
                f"{what} holds no embeddings (no image of its folder could be read); embed a folder "
                "with readable images"
            )
        info = loaded.source.info
        if model is not None and model.info.identity != info.identity:
            # Its calibration would be wrong for anyone else's vectors.
            raise DataError(
                f"{what} was made by model {info.identity}, but {model.path} is {model.info.identity}; "
                "score with the model that made the embeddings, or re-embed"
            )
        if file is not None:
            _check_names_match(Path(pairs_csv), file, set(loaded.paths))
        names, vectors, calibration = loaded.paths, loaded.vectors, info.calibration
        policy = info.collection
        identity, root = loaded.source.identity, loaded.root or None
        record = {**(record or {"identity": identity}), "from": str(what)}
    elif names is None or vectors is None or calibration is None:
        raise ValueError("give embeddings (an Embeddings or its file), or names, vectors and calibration")
    else:
        what = model.path if model is not None else "the calibration"
        policy = model.info.collection if model is not None else None
    adaptation, calibration = _adapted(np.asarray(vectors), policy, calibration, collection, reference)
    calibration, opened = _prepared(calibration, what, reference, identity, prior)
    return _score(
        pairs_csv,
        out_csv,
        list(names),
        adaptation.apply(np.asarray(vectors)),
        calibration,
        opened,
        reference_name=reference_name(reference),
        root=root,
        digests=query_digests,
        record=record,
        adaptation=adaptation,
        prior=prior,
        missing=missing,
        fill_value=fill_value,
        solution=solution,
        show_progress=show_progress,
    )


def score_images(
    model: Model,
    pairs_csv: str | Path,
    out_csv: str | Path,
    images: str | Path,
    *,
    encoder_options: Mapping[str, Any],
    reference: Reference | str | Path | None = None,
    prior: float | None = None,
    missing: Missing | None = None,
    fill_value: float = 0.5,
    solution: str | Path | None = None,
    force: bool = False,
    show_progress: bool = False,
    log: Callable[[str], None] | None = None,
    collection: str = "auto",
) -> ScoreSummary:
    """`Model.score_pairs`: embed each distinct image the pairs name once, then score as
    `score_pairs` does (the arguments are documented there)."""
    _check_output(out_csv, force, pairs_csv, solution, model, reference)
    folder, pairs = Path(images), Path(pairs_csv)
    if not folder.is_dir():
        raise DataError.naming(f"{{images}} {folder}: no such folder", images=_IMAGES)
    # Checks every row (and that every name stays inside the folder) before any decoding.
    wanted = unique_images(pairs, images_dir=folder, quiet=not show_progress)
    paths = [resolve_inside(folder, name) for name in wanted]
    present = [i for i, path in enumerate(paths) if path.is_file()]
    unavailable = [(wanted[i], "file not found") for i, path in enumerate(paths) if not path.is_file()]
    encoder = model.encoder(**encoder_options, most_images=len(present))
    identity = EmbeddingSource(model.info, encoder.views).identity
    plain = model.info.calibration
    # Checked (and the reference opened) before any decoding: a bad prior or reference fails fast.
    checked, opened = _prepared(plain, model.path, reference, identity, prior)
    with progress_bar("embedding", len(present), quiet=not show_progress, unit="images") as bar:
        vectors, failures = encoder.encode([paths[i] for i in present], on_progress=bar.advance)
    failed = {f.index for f in failures}
    unavailable += [(wanted[present[f.index]], f.cause) for f in failures]
    kept = [k for k in range(len(present)) if k not in failed]
    examples = "; ".join(f"{name}: {cause}" for name, cause in unavailable[:EXAMPLES])
    if not kept:
        raise DataError.naming(
            f"none of the {len(wanted):,} images named in {pairs} could be read in {{images}} {folder} "
            f"({examples}); is it the folder the names are relative to?",
            images=_IMAGES,
        )
    if unavailable and missing == "error":
        raise DataError.naming(
            f"{len(unavailable):,} of {len(wanted):,} images named in {pairs} cannot be read ({examples}); "
            f"pass {{fill}} to score their pairs as {fill_value}",
            fill=MISSING_FILL,
        )
    if unavailable and log is not None:
        log(f"{len(unavailable):,} images missing or unreadable, their pairs filled ({examples})")
    # The collection is the distinct paintings the pairs name, as read.
    adaptation, adapted = _adapted(vectors[kept], model.info.collection, plain, collection, reference)
    calibration = _prepared(adapted, model.path, None, identity, prior)[0] if adaptation.applied else checked
    return _score(
        pairs,
        out_csv,
        [wanted[present[k]] for k in kept],
        adaptation.apply(vectors[kept]),
        calibration,
        opened,
        adaptation=adaptation,
        reference_name=reference_name(reference),
        root=str(folder),
        digests=None,
        record=model.record(),
        prior=prior,
        missing=missing,
        fill_value=fill_value,
        solution=solution,
        show_progress=show_progress,
        unavailable=unavailable,
    )


def _check_output(
    out_csv: str | Path,
    force: bool,
    pairs_csv: str | Path,
    solution: str | Path | None,
    model: Model | None,
    reference: object,
    *more: tuple[str, str | Path | None],
) -> None:
    atomic.check_output(
        out_csv,
        force=force,
        inputs=[
            ("pairs file", pairs_csv),
            *more,
            ("solution file", solution),
            ("model", model.path if model is not None else None),
            ("reference file", reference if isinstance(reference, (str, Path)) else None),
        ],
        argument="out_csv",
    )


def _prepared(
    calibration: Calibration,
    what: object,
    reference: Reference | str | Path | None,
    identity: str | None,
    prior: float | None,
) -> tuple[Calibration, Reference | None]:
    """The calibration and the reference as they score: opened, checked and moved to ``prior``
    (the reference's pair model when there is one, else the calibration)."""
    if reference is None:
        return moved_to_prior(calibration, prior, what, "export the model again"), None
    return calibration, open_reference(reference, identity, prior)


def _score(
    pairs_csv: str | Path,
    out_csv: str | Path,
    names: list[str],
    vectors: np.ndarray,
    calibration: Calibration,
    reference: Reference | None,
    *,
    reference_name: str | None,
    root: str | None,
    digests: Sequence[str | None] | None,
    record: dict[str, object] | None,
    prior: float | None,
    missing: Missing | None,
    fill_value: float,
    solution: str | Path | None,
    show_progress: bool,
    unavailable: Sequence[tuple[str, str]] = (),
    adaptation: CollectionAdaptation | None = None,
) -> ScoreSummary:
    """Run the pairs engine on prepared inputs (`_prepared`), with the reference's pair model as
    the scorer when there is one."""
    scorer, report = None, None
    if reference is not None:
        scorer, report = _reference_scorer(reference, names, vectors, root, digests)
        report = {"file": reference_name, **report}
    summary = score_engine(
        pairs_csv,
        out_csv,
        names=names,
        vectors=vectors,
        calibration=calibration,
        missing=missing,
        fill_value=fill_value,
        solution=solution,
        quiet=not show_progress,
        pair_probability=scorer,
    )
    return replace(
        summary,
        prior=prior,
        reference=report,
        unreadable=tuple(unavailable[:EXAMPLES]),
        unreadable_images=len(unavailable),
        model=record,
        collection=adaptation.record() if adaptation is not None else None,
    )


def _adapted(
    vectors: np.ndarray,
    policy: CollectionPolicy | None,
    calibration: Calibration,
    choice: str,
    reference: object,
) -> tuple[CollectionAdaptation, Calibration]:
    """The collection adaptation the scores take, and its calibration (none with a reference)."""
    if reference is not None:
        if choice == "centre":
            raise UsageError.naming(
                "{centre} cannot be combined with a reference: its pair model was fitted on plain "
                "cosines; leave the collection adaptation at auto or none",
                centre=("collection='centre'", "--collection centre"),
            )
        return CollectionAdaptation("none", len(vectors), reason="scored with a reference"), calibration
    return adapt_for_model(vectors, policy, calibration, choice)


def _reference_scorer(
    reference: Reference,
    names: list[str],
    vectors: np.ndarray,
    root: str | None,
    digests: Sequence[str | None] | None,
) -> tuple[Callable[[np.ndarray, np.ndarray], np.ndarray], dict[str, Any]]:
    """The block scorer of a reference, and what it said about the paintings."""
    from painter_match.inference.reference import query_evidence, score_pairs_with_reference
    from painter_match.inference.reference.set import content_digests

    combiner = reference.combiner
    assert combiner is not None  # open_reference refuses a reference without one
    # The files' bytes, so that a painting that is the very file of a reference painting is
    # recognised whatever its similarity (None where the folder is not at hand).
    if digests is None and root is not None and Path(root).is_dir():
        digests = content_digests(root, names)
    evidence = query_evidence(vectors, reference, query_digests=digests)

    def scorer(first: np.ndarray, second: np.ndarray) -> np.ndarray:
        return score_pairs_with_reference(first, second, evidence, combiner)

    report: dict[str, Any] = {
        "paintings": len(reference),
        "artists": len(reference.artists),
        "near_duplicate": combiner.near_duplicate,
        **evidence.neighbours.report(),
    }
    return scorer, report


def _check_names_match(pairs_csv: Path, embeddings: Path, names: set[str]) -> None:
    """Refuse early when the first pairs name no embedded image: the usual sign of embedding the
    wrong folder (e.g. the data folder, giving ``test/1.jpg``, for pairs naming ``1.jpg``)."""
    import pandas as pd

    from painter_match.input_files import input_file_problem

    if input_file_problem(pairs_csv) is not None:
        return  # not opened: a FIFO would hang here; the pairs reader names what it is
    try:
        head = pd.read_csv(pairs_csv, dtype=str, nrows=1000, keep_default_na=False)
    except (OSError, ValueError, pd.errors.ParserError):
        return  # the engine reads the file properly and says what is wrong with it
    head.columns = [str(c).strip() for c in head.columns]
    if not {"image1", "image2"} <= set(head.columns) or head.empty:
        return
    seen = {normalise_name(n) for n in set(head["image1"]) | set(head["image2"])}
    names = {normalise_name(n) for n in names}
    if names and not seen & names:
        example = next(iter(sorted(names)))
        raise DataError(
            f"none of the images named in the first rows of {pairs_csv} (e.g. {sorted(seen)[0]!r}) is in "
            f"{embeddings} (e.g. {example!r}); embed the folder the names are relative to "
            "(for Kaggle, the test/ folder)"
        )
