"""``painter-match embed DIR -o OUT.npz``: embed every image under a folder, resumably.

A thin layer over `painter_match.Model.embed_folder` (`painter_match.inference.folder` documents
what happens to an existing output, a partial file, unreadable images and an interruption): this
module opens the model, makes that one call with the options, turns ``kill`` into Ctrl-C, and
prints the result.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from painter_match.commands.common import (
    add_command,
    add_model_options,
    add_output_options,
    interrupted,
    load_model,
    log_to,
    output_folder_writable,
    print_json,
    sigterm_as_interrupt,
)


def add_parser(commands: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = add_command(
        commands,
        "embed",
        help="embed every image under a folder with the ONNX model",
        description="Embed every image under DIR (recursively) into an .npz holding the relative paths, "
        "the L2-normalised vectors and the model's identity. Unreadable images are skipped and listed in "
        "OUT.errors.csv. Progress is saved to OUT.partial.npz as it goes: after Ctrl-C or kill, rerun with "
        "--resume to embed only the rest.",
    )
    parser.add_argument("dir", metavar="DIR", type=Path, help="folder of images")
    parser.add_argument(
        "-o", "--output", type=Path, default=Path("embeddings.npz"), help="embeddings file to write"
    )
    again = parser.add_mutually_exclusive_group()
    again.add_argument(
        "--resume",
        action="store_true",
        help="continue from OUT.partial.npz or OUT, embedding only the images not in it (same model only)",
    )
    again.add_argument("--force", action="store_true", help="start over, replacing OUT when done")
    parser.add_argument("--strict", action="store_true", help="stop at the first unreadable image")
    parser.add_argument(
        "--shard",
        type=shard,
        default=None,
        metavar="K/N",
        help="embed only shard K of N (counted from 0) of the images, chosen by a stable hash of each relative "
        "path; run the N shards anywhere (e.g. a Slurm array), then `painter-match merge OUT.npz SHARD...`",
    )
    parser.add_argument(
        "--engine",
        choices=("local", "ray"),
        default="local",
        help="local: this machine's threads; ray: Ray Data actors, each with one onnxruntime session "
        '(pip install "painter-match[ray]"; the images and the model at the same path on every node)',
    )
    parser.add_argument(
        "--address",
        default=None,
        help="with --engine ray: the cluster to join (HOST:PORT, ray://HOST:PORT or auto); "
        "default: start a local Ray",
    )
    parser.add_argument(
        "--gpus-per-actor",
        type=float,
        default=0.0,
        metavar="G",
        help="with --engine ray: GPUs each actor asks for (then it runs CUDA); 0 runs on CPUs",
    )
    add_model_options(parser)
    add_output_options(parser)
    return parser


def shard(text: str) -> tuple[int, int]:
    from painter_match.inference.scale_out.shards import parse_shard

    try:
        return parse_shard(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def run(args: argparse.Namespace) -> int:
    from painter_match.inference.folder import EmbedInterrupted

    if args.engine == "ray":
        from painter_match.inference.scale_out.ray_engine import import_ray

        import_ray()  # before the model is opened: without Ray, the one line says how to install it
    output_folder_writable(args.output)
    model = load_model(args)
    try:
        with sigterm_as_interrupt():
            result = model.embed_folder(
                args.dir,
                args.output,
                resume=args.resume,
                force=args.force,
                strict=args.strict,
                batch_size=args.batch_size,
                views=args.views,
                workers=args.workers,
                max_pixels=args.max_pixels,
                shard=args.shard,
                engine=args.engine,
                address=args.address,
                gpus_per_actor=args.gpus_per_actor,
                show_progress=not (args.quiet or args.json),
                log=log_to(args),
                find_painting=args.find_painting,  # None: auto here, off on Ray (the API decides)
                painting_edge=args.painting_edge,
            )
    except EmbedInterrupted as stop:
        return interrupted(stop.cli_note)
    summary = result.to_dict()
    summary["model"] = {**model.record(), "identity": result.embeddings.source.identity}
    summary["shard"] = f"{args.shard[0]}/{args.shard[1]}" if args.shard else None
    summary["engine"] = args.engine
    if args.json:
        print_json(summary)
        return 0
    embedded, seconds = result.embedded, result.seconds
    rate = f" ({embedded / seconds:,.1f} images/s)" if seconds > 0 and embedded else ""
    lines = [
        f"embedded {embedded:,} images in {seconds:.1f}s{rate}"
        + (f", {result.resumed:,} already done" if result.resumed else "")
        + f" -> {result.output} ({len(result.embeddings):,} vectors of {model.dim})"
        + (f", shard {args.shard[0]}/{args.shard[1]}" if args.shard else "")
    ]
    if result.failures:
        lines.append(f"{len(result.failures):,} unreadable images skipped, listed in {result.errors_csv}")
    if result.embeddings.source.find_painting != "off":
        from painter_match.inference.painting_records import summary_text

        lines.append(summary_text(result.paintings()))
    print("\n".join(lines))
    return 0
