"""A fitted labelled reference set from an embeddings file and its labels: what ``painter-match
reference`` does, as one call (`make_reference`).

The labels are read by the one label reader that ``similar --labels`` uses
(`painter_match.inference.neighbours.read_labels`: a Kaggle ``train_info.csv`` /
``all_data_info.csv`` by file name, or a folder-per-artist tree whose folders are the artists);
the labelled paintings become a `Reference` (`reference.set.build_reference`), its pair model is
fitted on held-out paintings of its own artists (`reference.fit.fit_reference`), and the result
is written atomically for ``score --reference`` and ``verify --reference``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from painter_match import atomic
from painter_match.errors import DataError
from painter_match.inference.embeddings import Embeddings, load_embeddings
from painter_match.inference.neighbours import Labels, read_labels
from painter_match.inference.reference.set import Reference


@dataclass(frozen=True)
class ReferenceMade:
    """What `make_reference` wrote.

    Attributes:
        output: the reference file.
        reference: the fitted reference set it holds.
        unlabelled_skipped: embedded paintings left out for want of an artist.
    """

    output: Path
    reference: Reference
    unlabelled_skipped: int

    def to_dict(self) -> dict[str, Any]:
        """What was fitted, JSON-ready (what ``reference --json`` prints)."""
        combiner = self.reference.combiner
        assert combiner is not None  # make_reference fits it
        return {
            "output": str(self.output),
            "paintings": len(self.reference),
            "artists": len(self.reference.artists),
            "unlabelled_skipped": self.unlabelled_skipped,
            "model": self.reference.source,
            "combiner": combiner.to_dict(),
        }


def make_reference(
    embeddings: Embeddings | str | Path,
    labels: Labels | str | Path,
    out: str | Path,
    *,
    skip_unlabelled: bool = False,
    unseen_artists: Iterable[str] | str | Path | None = None,
    max_pairs: int = 400_000,
    seed: int = 0,
    force: bool = False,
    log: Callable[[str], None] | None = None,
) -> ReferenceMade:
    """Build a reference set from labelled paintings' embeddings, fit its pair model, and write it.

    Args:
        embeddings: the labelled paintings' embeddings (``painter-match embed train/``), or
            their file.
        labels: their artists: a `Labels`, or what `read_labels` reads.
        out: the reference file to write (``.npz``).
        skip_unlabelled: leave out embedded paintings without a label instead of refusing them.
        unseen_artists: artists to hold out whole while fitting (e.g. the trainer's validation
            artists), or a file of them, one a line; None: a random quarter of the artists.
        max_pairs: held-out pairs the pair model is fitted on.
        seed: of the held-out split and the pair sample.
        force: replace an existing ``out``.
        log: receives a line when the fit starts.

    Raises:
        DataError: unlabelled paintings (without ``skip_unlabelled``), an unreadable artist list,
            or too few artists or paintings to hold some out.
        OutputError: ``out`` exists (without ``force``), is an input, or cannot be written.
    """
    from painter_match.inference.reference.fit import fit_reference
    from painter_match.inference.reference.set import build_reference, save_reference

    file = Path(embeddings) if isinstance(embeddings, (str, Path)) else None
    artist_list = Path(unseen_artists) if isinstance(unseen_artists, (str, Path)) else None
    atomic.check_output(
        out,
        force=force,
        inputs=[
            ("embeddings file", file),
            ("labels file", labels if isinstance(labels, (str, Path)) else None),
            ("artist list", artist_list),
        ],
        argument="out",
    )
    loaded = load_embeddings(file) if file is not None else embeddings
    assert isinstance(loaded, Embeddings)
    what = file if file is not None else "the embeddings"
    read = labels if isinstance(labels, Labels) else read_labels(labels)
    by_path = {path: read.artist(path) for path in loaded.paths}
    labelled = {path: artist for path, artist in by_path.items() if artist}
    unlabelled = len(loaded.paths) - len(labelled)
    if unlabelled and not skip_unlabelled:
        example = next(path for path, artist in by_path.items() if not artist)
        raise DataError.naming(
            f"{unlabelled:,} of the {len(loaded.paths):,} paintings in {what} have no artist in {read.source} "
            f"(first: {example!r}); give the labels of the folder embedded, or pass {{skip}}",
            skip=("skip_unlabelled=True", "--skip-unlabelled"),
        )
    unseen = _artists(artist_list) if artist_list is not None else unseen_artists
    try:
        reference = build_reference(loaded, labelled, unlabelled="skip")
        if log is not None:
            log(f"fitting on {len(reference):,} paintings of {len(reference.artists):,} artists")
        fitted = fit_reference(
            reference,
            unseen_artists=list(unseen) if unseen is not None else None,  # type: ignore[arg-type]
            max_pairs=max_pairs,
            seed=seed,
        )
    except ValueError as error:  # too few artists or paintings to hold some out, a stranger named
        raise DataError(f"{what}: cannot fit a reference ({error})") from None
    save_reference(out, fitted)
    return ReferenceMade(Path(out), fitted, unlabelled)


def _artists(path: Path) -> list[str]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise DataError.naming(
            f"{{option}} {path}: cannot read ({error.strerror})",
            option=("unseen_artists", "--unseen-artists"),
        ) from None
    return [line.strip() for line in text.splitlines() if line.strip()]
