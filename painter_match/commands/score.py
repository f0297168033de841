"""`painter-match score PAIRS.csv -o submission.csv`: a Kaggle submission from a pairs file.

One call of the Python API: ``--embeddings FILE`` is `painter_match.score_pairs` (no decoding; the
calibration is the one stored with the file, so no model is needed unless ``-m`` is given, which
must then be the model that made them), ``--images DIR`` is `painter_match.Model.score_pairs`
(each distinct image the pairs name resolved inside DIR and embedded once);
`painter_match.inference.scoring.submission` documents both: missing or unreadable images (``--missing
fill``, the default, as Kaggle requires every row, gives their pairs ``--fill-value``; ``--missing
error`` stops), ``--reference`` (the reference's fitted pair model scores each pair), ``--prior``
and the output check (an existing file is replaced only with ``--force``, an input never).
With ``--solution`` and Kaggle's ``all_data_info.csv`` beside it, the AUC is also given for pairs
of artists seen in train/ and of artists who are not. Ctrl-C or SIGTERM stops the run with one
line and exit 130, leaving the output as it was.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from painter_match.commands.common import (
    add_collection_option,
    add_command,
    add_model_options,
    add_output_options,
    add_prior_option,
    find_painting,
    interrupted,
    load_model,
    log_to,
    output_folder_writable,
    print_json,
    probability,
    sigterm_as_interrupt,
)


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
    add_collection_option(
        score, "the paintings scored (those with an embedding, or the images the pairs name)"
    )
    add_model_options(score)
    add_output_options(score)
    return score


def run(args: argparse.Namespace) -> int:
    try:
        with sigterm_as_interrupt():
            return _score(args)
    except KeyboardInterrupt:
        return interrupted(f"nothing was written to {args.output}")


def _score(args: argparse.Namespace) -> int:
    import painter_match

    output_folder_writable(args.output)

    options: dict[str, Any] = {
        "reference": args.reference,
        "prior": args.prior,
        "missing": args.missing,
        "fill_value": args.fill_value,
        "solution": args.solution,
        "force": args.force,
        "show_progress": not (args.quiet or args.json),
        "collection": args.collection,
    }
    if args.embeddings is not None:
        # No model needed: the calibration travels with the embeddings; -m must be their model.
        model = load_model(args) if args.model is not None else None
        summary = painter_match.score_pairs(args.pairs, args.output, args.embeddings, model=model, **options)
    else:
        summary = load_model(args).score_pairs(
            args.pairs,
            args.output,
            args.images,
            batch_size=args.batch_size,
            views=args.views,
            workers=args.workers,
            max_pixels=args.max_pixels,
            log=log_to(args),
            find_painting=find_painting(args),
            painting_edge=args.painting_edge,
            **options,
        )
    result: dict[str, Any] = summary.to_dict()
    by_group = _seen_unseen(args)
    if by_group is not None:
        result.update(by_group)
    if args.json:
        print_json(result)
        return 0
    lines = [
        f"scored {summary.scored:,} of {summary.pairs:,} pairs in {summary.seconds:.1f}s "
        f"({summary.pairs_per_second:,.0f} pairs/s) -> {args.output}"
    ]
    if summary.filled:
        lines.append(
            f"{summary.filled:,} pairs filled with {args.fill_value} (an image missing or unreadable)"
        )
    if summary.auc is not None:
        pairs, covered = summary.pairs, summary.auc_pairs
        share = f"all {pairs:,} pairs" if covered == pairs else f"{covered:,} of the {pairs:,} pairs"
        lines.append(f"ROC AUC {summary.auc:.4f} against {args.solution}, on {share} (those it labels)")
    if by_group is not None:
        lines.append(
            f"  seen artists   {_auc_text(by_group['auc_seen'], by_group['pairs_seen'])}   "
            f"unseen artists {_auc_text(by_group['auc_unseen'], by_group['pairs_unseen'])}   "
            f"(artists with / without paintings in train/, from {by_group['artists_from']})"
        )
    reference = summary.reference
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


def _seen_unseen(args: argparse.Namespace) -> dict[str, Any] | None:
    """AUC of seen- and unseen-artist pairs when Kaggle's all_data_info.csv is beside --solution."""
    if args.solution is None:
        return None
    info = args.solution.parent / "all_data_info.csv"
    if not info.is_file():
        return None
    from painter_match.evaluation.seen_unseen import seen_unseen_auc

    return seen_unseen_auc(args.pairs, args.output, args.solution, info)
