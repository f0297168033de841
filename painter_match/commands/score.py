"""`painter-match score PAIRS.csv -o submission.csv`: a Kaggle submission from a pairs file.

The vectors come from ``--embeddings`` (no decoding; the calibration is the one stored with them,
so no model is needed unless ``-m`` is given, which must then be the model that made them) or
from ``--images DIR`` (each distinct image named by the pairs is resolved inside DIR, refusing
names that leave it, and embedded once). The pair engine (`painter_match.inference.scoring`) streams the
pairs in chunks and writes the submission atomically. An image that is missing or unreadable is
reported either way; with ``--missing fill`` (the default, as Kaggle requires every row) its
pairs get ``--fill-value``, with ``--missing error`` the run stops naming it.

With ``--reference REF.npz`` (from `painter-match reference`, made with the same model) each pair
is scored by the reference's fitted pair model (`painter_match.inference.reference`): the cosine
combined with each painting's nearest labelled reference artists. A test painting whose own
file, or a near-duplicate of it, is in the reference does not count as evidence for itself; how
many did is reported. With ``--solution`` and Kaggle's ``all_data_info.csv`` beside it, the AUC is
also given for pairs of artists seen in train/ and of artists who are not.

Before any work the output is checked: an existing file is replaced only with ``--force``, and
one of the run's own inputs (pairs, embeddings, solution, model) never. Ctrl-C or SIGTERM stops
the run with one line and exit 130, leaving the output as it was.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from painter_match import atomic
from painter_match.commands.common import (
    add_command,
    add_model_options,
    add_output_options,
    add_prior_option,
    check_prior_can_move,
    interrupted,
    make_encoder,
    model_record,
    open_command_model,
    print_json,
    probability,
    say,
    sigterm_as_interrupt,
)
from painter_match.data.images import normalise_name, resolve_inside
from painter_match.errors import DataError
from painter_match.inference.calibration import Calibration
from painter_match.inference.embeddings import EmbeddingSource, load_embeddings
from painter_match.inference.reference_set import load_reference
from painter_match.progress import progress_bar

# How many unavailable images a message or the JSON names before it just counts.
EXAMPLES = 5


def add_parser(commands: argparse._SubParsersAction) -> argparse.ArgumentParser:
    score = add_command(
        commands,
        "score",
        help="score a Kaggle pairs file (index,image1,image2) into a submission",
        description="Write index,sameArtist (a calibrated probability per pair, every index once, in input "
        "order) for a pairs file such as Kaggle's submission_info.csv. Images come from --images DIR (each "
        "distinct image embedded once) or from an embeddings file made by `embed` (no decoding at all).",
    )
    score.add_argument("pairs", metavar="PAIRS_CSV", type=Path, help="index,image1,image2")
    score.add_argument("-o", "--output", type=Path, required=True, help="submission CSV to write")
    score.add_argument(
        "--force", action="store_true", help="replace OUTPUT if it exists (never one of the run's inputs)"
    )
    source = score.add_mutually_exclusive_group(required=True)
    source.add_argument("--images", type=Path, help="folder the image names are relative to")
    source.add_argument("--embeddings", type=Path, help="embeddings file from `painter-match embed`")
    score.add_argument(
        "--missing",
        default="fill",
        choices=("fill", "error"),
        help="an image missing or unreadable: fill its pairs with --fill-value (Kaggle wants every row), "
        "or stop",
    )
    score.add_argument(
        "--fill-value", type=probability, default=0.5, help="probability given to unscorable pairs"
    )
    score.add_argument(
        "--solution",
        type=Path,
        default=None,
        help="ground truth (index,sameArtist): print AUC (and seen/unseen-artist AUC when Kaggle's "
        "all_data_info.csv is beside it)",
    )
    score.add_argument(
        "--reference",
        type=Path,
        default=None,
        help="a labelled reference set from `painter-match reference` (same model): score each pair with "
        "the two paintings' nearest reference artists as well as their cosine",
    )
    add_prior_option(score)
    add_model_options(score)
    add_output_options(score)
    return score


def _from_embeddings(
    args: argparse.Namespace,
) -> tuple[list[str], np.ndarray, Calibration, dict[str, Any], str, Path | None]:
    embeddings = load_embeddings(args.embeddings)
    if len(embeddings) == 0:
        raise DataError(
            f"{args.embeddings} holds no embeddings (no image of its folder could be read); embed a folder "
            "with readable images"
        )
    info = embeddings.source.info
    record: dict[str, Any] = {"identity": embeddings.source.identity, "from": str(args.embeddings)}
    if args.model is not None:
        # An explicit model must be the one that made the vectors: its calibration would be wrong
        # for anyone else's.
        model = open_command_model(args)
        if model.info.identity != info.identity:
            raise DataError(
                f"{args.embeddings} was made by model {info.identity}, but {model.path} is "
                f"{model.info.identity}; score with the model that made the embeddings, or re-embed"
            )
        record = {**model_record(model), "from": str(args.embeddings)}
    root = Path(embeddings.root) if embeddings.root else None
    return embeddings.paths, embeddings.vectors, info.calibration, record, embeddings.source.identity, root


def _from_images(
    args: argparse.Namespace, names: list[str]
) -> tuple[list[str], np.ndarray, Calibration, dict[str, Any], list[tuple[str, str]], str]:
    root: Path = args.images
    paths = [resolve_inside(root, name) for name in names]  # already checked by unique_images
    present = [i for i, p in enumerate(paths) if p.is_file()]
    unavailable = [(names[i], "file not found") for i, p in enumerate(paths) if not p.is_file()]
    model = open_command_model(args)
    encoder = make_encoder(args, model, most_images=len(present))
    identity = EmbeddingSource(model.info, encoder.views).identity
    if args.reference is not None:  # refused before any decoding
        load_reference(args.reference, source=identity, fitted=True)
    with progress_bar("embedding", len(present), quiet=args.quiet or args.json, unit="images") as bar:
        vectors, failures = encoder.encode([paths[i] for i in present], on_progress=bar.advance)
    failed = {f.index for f in failures}
    unavailable += [(names[present[f.index]], f.cause) for f in failures]
    kept = [k for k in range(len(present)) if k not in failed]
    return (
        [names[present[k]] for k in kept],
        vectors[kept],
        model.info.calibration,
        model_record(model),
        unavailable,
        identity,
    )


def _check_names_match(pairs_csv: Path, embeddings: Path, names: set[str]) -> None:
    """Refuse early when the first pairs name no embedded image: the usual sign of embedding the
    wrong folder (e.g. the data folder, giving ``test/1.jpg``, for pairs naming ``1.jpg``)."""
    import pandas as pd

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


def run(args: argparse.Namespace) -> int:
    atomic.check_output(
        args.output,
        force=args.force,
        inputs=[
            ("pairs file", args.pairs),
            ("embeddings file", args.embeddings),
            ("solution file", args.solution),
            ("model", args.model),
            ("reference file", args.reference),
        ],
    )
    try:
        with sigterm_as_interrupt():
            return _score(args)
    except KeyboardInterrupt:
        return interrupted(f"nothing was written to {args.output}")


def _score(args: argparse.Namespace) -> int:
    from painter_match.inference import scoring as engine  # the pair engine: pyarrow, loaded only here

    unavailable: list[tuple[str, str]] = []
    root: Path | None = args.images
    if args.embeddings is not None:
        names, vectors, calibration, model, identity, root = _from_embeddings(args)
        _check_names_match(args.pairs, args.embeddings, set(names))
    else:
        if not args.images.is_dir():
            raise DataError(f"--images {args.images}: no such folder")
        # Checks every row (and that every name stays inside the folder) before any decoding.
        wanted = engine.unique_images(args.pairs, images_dir=args.images, quiet=args.quiet or args.json)
        names, vectors, calibration, model, unavailable, identity = _from_images(args, list(wanted))
        if not names:
            examples = "; ".join(f"{n}: {c}" for n, c in unavailable[:EXAMPLES])
            raise DataError(
                f"none of the {len(wanted):,} images named in {args.pairs} could be read in --images "
                f"{args.images} ({examples}); is it the folder the names are relative to?"
            )
        if unavailable:
            examples = "; ".join(f"{n}: {c}" for n, c in unavailable[:EXAMPLES])
            if args.missing == "error":
                raise DataError(
                    f"{len(unavailable):,} of {len(wanted):,} images named in {args.pairs} cannot be read "
                    f"({examples}); pass --missing fill to score their pairs as {args.fill_value}"
                )
            say(args, f"{len(unavailable):,} images missing or unreadable, their pairs filled ({examples})")
    scorer, reference = None, None
    if args.reference is not None:
        scorer, reference = _reference_scorer(args, names, vectors, identity, root)
    elif args.prior is not None:
        check_prior_can_move(
            args.embeddings or model.get("path", "the model"),
            calibration.positive_share,
            args.prior,
            "export the model again",
        )
        calibration = calibration.at_prior(args.prior)
    summary = engine.score_pairs(
        args.pairs,
        args.output,
        names=names,
        vectors=vectors,
        calibration=calibration,
        missing=args.missing,
        fill_value=args.fill_value,
        solution=args.solution,
        quiet=args.quiet or args.json,
        pair_probability=scorer,
    )
    result: dict[str, Any] = dict(summary.to_dict())
    if reference is not None:
        result["reference"] = reference
    by_group = _seen_unseen(args)
    if by_group is not None:
        result.update(by_group)
    result["output"] = str(args.output)
    result["unreadable_images"] = len(unavailable)
    result["unreadable_examples"] = [{"image": n, "cause": c} for n, c in unavailable[:EXAMPLES]]
    result["model"] = model
    result["prior"] = args.prior
    if args.json:
        print_json(result)
        return 0
    pairs, seconds = int(result.get("pairs", 0)), float(result.get("seconds", 0.0))
    lines = [
        f"scored {pairs:,} pairs in {seconds:.1f}s ({result.get('pairs_per_second', 0):,.0f} pairs/s) -> {args.output}"
    ]
    if result.get("filled"):
        lines.append(
            f"{int(result['filled']):,} pairs filled with {args.fill_value} (an image missing or unreadable)"
        )
    if result.get("auc") is not None:
        covered = int(result.get("auc_pairs", 0))
        share = f"all {pairs:,} pairs" if covered == pairs else f"{covered:,} of the {pairs:,} pairs"
        lines.append(
            f"ROC AUC {float(result['auc']):.4f} against {args.solution}, on {share} (those it labels)"
        )
    if by_group is not None:
        lines.append(
            f"  seen artists   {_auc_text(by_group['auc_seen'], by_group['pairs_seen'])}   "
            f"unseen artists {_auc_text(by_group['auc_unseen'], by_group['pairs_unseen'])}   "
            f"(artists with / without paintings in train/, from {by_group['artists_from']})"
        )
    if reference is not None:
        lines.append(
            f"reference {args.reference}: {reference['paintings']:,} paintings of {reference['artists']:,} "
            f"artists; {reference['queries_with_duplicates']:,} of {reference['queries']:,} test paintings "
            f"found themselves or a near-duplicate in it (same file {reference['queries_with_same_file']:,}, "
            f"similarity >= {reference['near_duplicate']:.4f}: {reference['queries_with_near_duplicate']:,}), "
            "not counted as evidence"
        )
    print("\n".join(lines))
    return 0


def _auc_text(auc: float | None, pairs: int) -> str:
    return f"{auc:.4f} ({pairs:,} pairs)" if auc is not None else f"n/a ({pairs:,} pairs)"


def _reference_scorer(
    args: argparse.Namespace, names: list[str], vectors: np.ndarray, identity: str, root: Path | None
) -> tuple[Callable[[np.ndarray, np.ndarray], np.ndarray], dict[str, Any]]:
    """The block scorer of ``--reference``, and what the reference said about the test paintings."""
    from painter_match.inference.reference import query_evidence, score_pairs_with_reference
    from painter_match.inference.reference_set import content_digests

    reference = load_reference(args.reference, source=identity, fitted=True)
    combiner = reference.combiner
    assert combiner is not None  # load_reference(fitted=True) refuses one without
    check_prior_can_move(
        args.reference, combiner.positive_share, args.prior, "fit it again with `painter-match reference`"
    )
    if args.prior is not None:
        combiner = combiner.at_prior(args.prior)
    # The files' bytes, so that a test painting that is the very file of a reference painting is
    # recognised whatever its similarity (None where the folder is not at hand).
    digests = content_digests(root, names) if root is not None and root.is_dir() else None
    evidence = query_evidence(vectors, reference, query_digests=digests)

    def scorer(first: np.ndarray, second: np.ndarray) -> np.ndarray:
        return score_pairs_with_reference(first, second, evidence, combiner)

    report: dict[str, Any] = {
        "file": str(args.reference),
        "paintings": len(reference),
        "artists": len(reference.artists),
        "near_duplicate": combiner.near_duplicate,
        **evidence.neighbours.report(),
    }
    return scorer, report


def _seen_unseen(args: argparse.Namespace) -> dict[str, Any] | None:
    """AUC of seen- and unseen-artist pairs when Kaggle's all_data_info.csv is beside --solution."""
    if args.solution is None:
        return None
    info = args.solution.parent / "all_data_info.csv"
    if not info.is_file():
        return None
    from painter_match.evaluation.seen_unseen import seen_unseen_auc

    return seen_unseen_auc(args.pairs, args.output, args.solution, info)
