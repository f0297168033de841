"""`painter-match verify A B`: the probability that two paintings share an artist, and the verdict.

One call of `painter_match.Model.same_artist`, whose `SameArtist` the text, ``--json`` and
``--html`` all print. With ``--html`` the same result is also drawn
(`painter_match.evaluation.html_report.verify_report`): the two paintings side by side (with the
outline the painting finder embedded drawn on a photograph, or "whole image" and why), the
probability, the verdict and the pair on the calibration curve. ``--json`` gives each image's
finder record under ``paintings``.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from painter_match.commands.common import (
    add_command,
    add_html_option,
    add_model_options,
    add_output_options,
    add_prior_option,
    check_html_output,
    find_painting,
    load_model,
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
    verify.add_argument(
        "--collection",
        type=Path,
        default=None,
        metavar="EMB",
        help="an embeddings file (same model) of the collection the two paintings come from: both are "
        "centred on its mean and scored with the model's centred calibration. Without it two lone "
        "paintings are compared as they are",
    )
    add_model_options(verify)
    add_output_options(verify)
    return verify


def run(args: argparse.Namespace) -> int:
    check_html_output(
        args,
        [
            ("painting", args.first),
            ("painting", args.second),
            ("model", args.model),
            ("reference file", args.reference),
            ("collection file", args.collection),
        ],
    )
    model = load_model(args)
    # Decoding raises ImageLoadError naming the file: with only two paintings, an unreadable one
    # is the answer, not something to skip.
    result = model.same_artist(
        args.first,
        args.second,
        reference=args.reference,
        prior=args.prior,
        views=args.views,
        max_pixels=args.max_pixels,
        collection=args.collection,
        find_painting=find_painting(args),
        painting_edge=args.painting_edge,
    )
    if args.html is not None:
        from painter_match.evaluation.html_report import verify_report

        calibration = result.calibration
        verify_report(
            args.first,
            args.second,
            result.similarity,
            result.probability,
            result.threshold,
            (calibration.slope, calibration.intercept),
            args.html,
            title=f"Same artist? ({model.path.name})",
            same=result.same_artist,
            paintings=result.paintings,
        )
    if args.json:
        print_json(
            {
                "first": str(args.first),
                "second": str(args.second),
                **result.to_dict(),
                "model": model.record(),
            }
        )
        return 0
    print(result)
    for path, found in zip((args.first, args.second), result.artists):
        print(f"  {path}: {_artists_text(found)}")
    return 0


def _artists_text(found: Mapping[str, Any]) -> str:
    named = ", ".join(f"{a['artist']} {a['probability']:.2f}" for a in found["artists"]) or "none"
    text = f"{named}; other {found['other']:.2f}, not in the reference {found['unknown']:.2f}"
    left_out = found["excluded_as_itself"]
    if left_out:
        text += (
            f" ({left_out} reference painting{'s' if left_out > 1 else ''} left out as this painting itself)"
        )
    return text
