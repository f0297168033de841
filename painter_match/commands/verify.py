"""`painter-match verify A B`: the probability that two paintings share an artist, and the verdict.

With ``--html`` the same result is also drawn (`painter_match.evaluation.html_report.verify_report`):
the two paintings side by side, the probability, the verdict and the pair on the calibration curve.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from painter_match.commands.common import (
    add_command,
    add_html_option,
    add_model_options,
    add_output_options,
    check_html_output,
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
    add_model_options(verify)
    add_output_options(verify)
    return verify


def run(args: argparse.Namespace) -> int:
    import numpy as np

    check_html_output(args, [("painting", args.first), ("painting", args.second), ("model", args.model)])
    model = open_command_model(args)
    encoder = make_encoder(args, model)
    # Decoding raises ImageLoadError naming the file: with only two paintings, an unreadable one
    # is the answer, not something to skip.
    first, second = encoder.embed_pixels([encoder.pixels(args.first), encoder.pixels(args.second)])
    similarity = float(np.dot(first, second))
    calibration = model.info.calibration
    probability = float(calibration.probability(similarity))
    same = similarity >= calibration.threshold
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
                "views": 1 + encoder.views.crops,
                "model": model_record(model),
            }
        )
    else:
        verdict = "same artist" if same else "different artists"
        print(
            f"{verdict}: P(same artist) = {probability:.3f} "
            f"(cosine similarity {similarity:.4f}, threshold {calibration.threshold:.4f})"
        )
    return 0
