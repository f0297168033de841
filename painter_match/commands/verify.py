"""`painter-match verify A B`: the probability that two paintings share an artist, and the verdict.

With ``--html`` the same result is also drawn (`painter_match.evaluation.html_report.verify_report`):
the two paintings side by side, the probability, the verdict and the pair on the calibration curve.
"""

from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path
from typing import Any

from painter_match.commands.common import (
    add_command,
    add_html_option,
    add_model_options,
    add_output_options,
    add_prior_option,
    check_html_output,
    check_prior_can_move,
    make_encoder,
    model_record,
    open_command_model,
    print_json,
)


def add_parser(commands: argparse._SubParsersAction) -> argparse.ArgumentParser:
    verify = add_command(
        commands,
        "verify",
        help="the probability that two paintings share an artist",
        description="Embed two paintings and print P(same artist) and the verdict at the model's threshold.",
    )
    verify.add_argument("first", metavar="A", type=Path, help="first painting")
    verify.add_argument("second", metavar="B", type=Path, help="second painting")
    add_html_option(
        verify,
        "the two paintings, the probability, the verdict and where the pair falls on the model's "
        "calibration curve",
    )
    verify.add_argument(
        "--reference",
        type=Path,
        default=None,
        help="a labelled reference set from `painter-match reference` (same model): also weigh each "
        "painting's nearest reference artists, and print them",
    )
    add_prior_option(verify)
    add_model_options(verify)
    add_output_options(verify)
    return verify


def run(args: argparse.Namespace) -> int:
    import numpy as np

    check_html_output(args, [("painting", args.first), ("painting", args.second), ("model", args.model)])
    model = open_command_model(args)
    encoder = make_encoder(args, model)
    reference = _open_reference(args, model, encoder)  # refused before any decoding
    # Decoding raises ImageLoadError naming the file: with only two paintings, an unreadable one
    # is the answer, not something to skip.
    first, second = encoder.embed_pixels([encoder.pixels(args.first), encoder.pixels(args.second)])
    similarity = float(np.dot(first, second))
    calibration = model.info.calibration
    if args.prior is not None and reference is None:
        check_prior_can_move(model.path, calibration.positive_share, args.prior, "export the model again")
        calibration = calibration.at_prior(args.prior)
    probability = float(calibration.probability(similarity))
    same = similarity >= calibration.threshold
    artists: list[dict[str, object]] = []
    if reference is not None:
        from painter_match.inference.reference import verify_with_reference
        from painter_match.inference.reference_set import file_digest

        probability, artists = verify_with_reference(
            first, second, reference, digests=[file_digest(args.first), file_digest(args.second)]
        )
        same = probability >= 0.5  # the reference's pair model is fitted as a probability
    if args.html is not None:
        from painter_match.evaluation.html_report import verify_report

        verify_report(
            args.first,
            args.second,
            similarity,
            probability,
            calibration.threshold,
            (calibration.slope, calibration.intercept),
            args.html,
            title=f"Same artist? ({model.path.name})",
        )
    if args.json:
        print_json(
            {
                "first": str(args.first),
                "second": str(args.second),
                "similarity": round(similarity, 6),
                "probability": round(probability, 6),
                "threshold": calibration.threshold,
                "same_artist": bool(same),
                "prior": args.prior,
                "views": 1 + encoder.views.crops,
                "model": model_record(model),
                **({"reference": str(args.reference), "reference_artists": artists} if artists else {}),
            }
        )
    else:
        verdict = "same artist" if same else "different artists"
        print(
            f"{verdict}: P(same artist) = {probability:.3f} "
            + (
                f"(cosine similarity {similarity:.4f}, with the reference {args.reference})"
                if artists
                else f"(cosine similarity {similarity:.4f}, threshold {calibration.threshold:.4f})"
            )
            + (f" at a prior share of same-artist pairs of {args.prior:g}" if args.prior is not None else "")
        )
        for path, found in zip((args.first, args.second), artists):
            print(f"  {path}: {_artists_text(found)}")
    return 0


def _open_reference(args: argparse.Namespace, model: Any, encoder: Any) -> Any:
    if args.reference is None:
        return None
    from painter_match.inference.embeddings import EmbeddingSource
    from painter_match.inference.reference_set import load_reference

    identity = EmbeddingSource(model.info, encoder.views).identity
    reference = load_reference(args.reference, source=identity, fitted=True)
    assert reference.combiner is not None  # fitted=True refuses a reference without one
    check_prior_can_move(
        args.reference,
        reference.combiner.positive_share,
        args.prior,
        "fit it again with `painter-match reference`",
    )
    if args.prior is None:
        return reference
    return replace(reference, combiner=reference.combiner.at_prior(args.prior))


def _artists_text(found: dict[str, Any]) -> str:
    named = ", ".join(f"{a['artist']} {a['probability']:.2f}" for a in found["artists"]) or "none"
    text = f"{named}; other {found['other']:.2f}, not in the reference {found['unknown']:.2f}"
    left_out = found["excluded_as_itself"]
    if left_out:
        text += (
            f" ({left_out} reference painting{'s' if left_out > 1 else ''} left out as this painting itself)"
        )
    return text
