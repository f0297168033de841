"""Embed every image under a folder into an embeddings file, resumably: what ``painter-match embed`` does.

Progress is saved as the run goes to ``OUT.partial.npz`` (atomically, at most every few seconds
and never more than about a tenth of the run's time), and on Ctrl-C or SIGTERM before exiting.
Semantics of an existing output or partial file:

* neither ``resume`` nor ``force``: refused, naming ``--resume`` and ``--force``;
* ``resume``: continue from the partial file, else from the finished output, embedding only the
  images not in it yet (images that failed before are tried again); another model or view policy,
  another painting finder mode (``find_painting``, ``painting_edge``), or another folder, is
  refused rather than mixed;
* ``force``: start over; the old files are replaced when the new run finishes.

Unreadable images are skipped and listed in ``OUT.errors.csv`` (``strict``: the first one stops
the run, its progress kept for ``--resume``); a run that embeds none at all writes no output and
raises a DataError. Before any work the output is checked (not a folder, not the model, its folder takes a
new file), and a lock (`painter_match.atomic.OutputLock`) keeps a second run off the same output.
A write the disk refuses (full, read-only) stops the run with one line; the vectors of the last
partial file that could be written are kept, for ``--resume``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from painter_match import atomic
from painter_match.data.images import find_images
from painter_match.data.painting_finder import FoundPainting
from painter_match.errors import FORCE, RESUME, STRICT, DataError, OutputError, PainterMatchError, spell
from painter_match.inference.embeddings import (
    STAMP_FIELDS,
    UNKNOWN_STAMP,
    Embeddings,
    EmbeddingSource,
    errors_path,
    file_stamp,
    load_embeddings,
    merge,
    partial_path,
    save_embeddings,
    write_errors,
)
from painter_match.inference.encoder import Failure, OnnxEncoder
from painter_match.progress import progress_bar


class EmbedInterrupted(KeyboardInterrupt):
    """Ctrl-C or SIGTERM stopped `embed_folder`; ``note`` says what was kept for ``resume=True``
    (``cli_note``: the same for a command-line user, naming ``--resume``)."""

    def __init__(self, note: str, cli_note: str | None = None) -> None:
        super().__init__(note)
        self.note = note
        self.cli_note = cli_note if cli_note is not None else note


@dataclass
class EmbedFolderResult:
    """What `embed_folder` wrote.

    Attributes:
        output: the embeddings file.
        embeddings: what it holds.
        images: image files found under the folder.
        embedded: images embedded by this run.
        resumed: images taken from an earlier run's file.
        failures: the images that could not be read (path relative to the folder, cause).
        errors_csv: where they are listed, or None when there were none.
        seconds: time spent embedding.
    """

    output: Path
    embeddings: Embeddings
    images: int
    embedded: int
    resumed: int
    failures: list[Failure] = field(default_factory=list)
    errors_csv: Path | None = None
    seconds: float = 0.0

    def to_dict(self) -> dict[str, object]:
        """A JSON-ready summary (the model's identity included)."""
        return {
            "output": str(self.output),
            "images": self.images,
            "embedded": self.embedded,
            "resumed": self.resumed,
            "unreadable": len(self.failures),
            "errors_csv": str(self.errors_csv) if self.errors_csv else None,
            "seconds": round(self.seconds, 3),
            "images_per_second": round(self.embedded / self.seconds, 2)
            if self.seconds > 0 and self.embedded
            else None,
            "dim": self.embeddings.source.info.embedding_dim,
            "views": 1 + self.embeddings.source.views.crops,
            "find_painting": self.paintings(),
        }

    def paintings(self) -> dict[str, object]:
        """What the painting finder did to the file's images, resumed ones included: how many
        were cropped to the painting, how many left whole and why (`painting_records.summary`)."""
        from painter_match.inference.painting_records import summary

        embeddings = self.embeddings
        records = embeddings.paintings if embeddings.paintings is not None else [None] * len(embeddings)
        return summary(records, embeddings.source.find_painting, embeddings.source.painting_edge)


# Save progress at least this often...
SAVE_EVERY_S = 10.0
# ...but let saving take at most about this share of the run (a partial file of 100k vectors
# takes a moment to write, and it is rewritten whole each time).
SAVE_SHARE = 0.1


class _Saver:
    """Keeps what is done and writes the partial file when it is due."""

    def __init__(
        self,
        target: Path,
        done: Embeddings | None,
        source: EmbeddingSource,
        root: str,
        *,
        stamps: dict[str, tuple[int, int, int]] | None = None,
        shard: tuple[int, int] | None = None,
    ) -> None:
        self.target = target
        self.source = source
        self.root = root
        self.done = done
        self.stamps = stamps or {}
        self.shard = shard
        self.paths: list[str] = []
        self.vectors: list[np.ndarray] = []
        self.paintings: list[FoundPainting | None] = []
        self.unsaved = 0
        self.last_save = time.monotonic()
        self.cost = 0.0
        # Images in the partial file on disk, and whether writing it has failed (no retry then).
        self.kept = len(done) if done is not None and target.exists() else 0
        self.failed = False

    def add(
        self, paths: list[str], vectors: np.ndarray, paintings: Sequence[FoundPainting | None] = ()
    ) -> None:
        """Keep a batch: its paths, vectors, and the painting finder's records (none when it did
        not look); save the partial file when it is due."""
        self.paths.extend(paths)
        self.vectors.append(vectors)
        self.paintings.extend(paintings if len(paintings) == len(paths) else [None] * len(paths))
        self.unsaved += len(paths)
        now = time.monotonic()
        if self.unsaved and now - self.last_save >= max(SAVE_EVERY_S, self.cost / SAVE_SHARE):
            self.save()

    def collected(self, order: Sequence[str] | None = None) -> Embeddings:
        """What is done (in ``order``, default: resumed first), with each file's stamp and the shard."""
        dim = self.source.info.embedding_dim
        new = Embeddings(
            paths=list(self.paths),
            vectors=np.concatenate(self.vectors) if self.vectors else np.empty((0, dim), np.float32),
            source=self.source,
            root=self.root,
            paintings=list(self.paintings) if self.source.find_painting != "off" else None,
        )
        parts = [self.done, new] if self.done is not None else [new]
        if order is None:
            order = [p for part in parts for p in part.paths]
        merged = merge(order, parts, self.source, self.root)
        # The stamps taken before this run read anything: a resumed image kept is unchanged since
        # its recorded stamp, or had none (a file from before they were recorded) and takes today's.
        stamps = np.asarray([self.stamps.get(p, UNKNOWN_STAMP) for p in merged.paths], dtype=np.int64)
        return replace(merged, stamps=stamps.reshape(len(merged), STAMP_FIELDS), shard=self.shard)

    def save(self) -> None:
        """Write the partial file (atomically: a failed write leaves the previous one whole)."""
        if not self.unsaved:
            return
        started = time.monotonic()
        collected = self.collected()
        try:
            save_embeddings(self.target, collected)
        except OutputError:
            self.failed = True
            raise
        self.kept = len(collected)
        self.last_save = time.monotonic()
        self.cost = self.last_save - started
        self.unsaved = 0

    def keep(self) -> str:
        """Save what is done if the partial file can still be written; say what is kept and what to do
        (``{resume}`` where the reader's spelling of it goes, `painter_match.errors.spell`)."""
        if self.unsaved and not self.failed:
            try:
                self.save()
            except OutputError:
                pass
        if self.kept and not self.unsaved:
            return f"progress saved in {self.target} ({self.kept:,} images): rerun with {{resume}} to embed the rest"
        if self.kept:
            return (
                f"the {self.kept:,} images saved last are kept in {self.target}: once it can be written, "
                "rerun with {resume} to embed the rest"
            )
        return "nothing was saved"


def embed_folder(
    folder: str | Path,
    out: str | Path,
    encoder: OnnxEncoder | Callable[[], OnnxEncoder],
    *,
    resume: bool = False,
    force: bool = False,
    strict: bool = False,
    inputs: Sequence[tuple[str, str | Path | None]] = (),
    show_progress: bool = False,
    log: Callable[[str], None] | None = None,
    shard: tuple[int, int] | None = None,
) -> EmbedFolderResult:
    """Embed every image under ``folder`` into the embeddings file ``out``; see the module docstring.

    Args:
        folder: the folder of images (searched recursively).
        out: the ``.npz`` to write; ``OUT.partial.npz`` and ``OUT.errors.csv`` go beside it.
        encoder: the encoder, or a function that makes it (called only once the cheap checks
            have passed, so that a bad folder is reported before a model is opened).
        resume: continue from the partial file, else from ``out``.
        force: start over, replacing ``out`` when done.
        strict: stop at the first unreadable image (its progress kept for ``resume``).
        inputs: the run's inputs (``("model", path)``), which the outputs must not be.
        show_progress: draw a progress bar on stderr.
        log: receives a line when a run resumes.
        shard: ``(K, N)``: embed only shard K of N of the images
            (`painter_match.inference.scale_out.shards`), chosen from the folder's listing before
            anything else; ``out`` then holds that shard.

    Raises:
        DataError: no images, an existing output without ``resume``/``force``, another model's or
            folder's file to resume, ``strict`` and an unreadable image, or nothing embeddable.
        OutputError: an output that cannot be written, or another run writing it.
        EmbedInterrupted: Ctrl-C (or SIGTERM turned into it); progress is saved for ``resume``.
    """
    root, out = Path(folder), Path(out)
    partial = partial_path(out)
    errors_file = errors_path(out)
    with ExitStack() as claims:
        # Before any work: outputs that can be written and are no input: not the model, not one of
        # the images (an image inside the folder is refused even with force; a rename never
        # changes the data of another name, so hard links to an image elsewhere are safe).
        # Existence is the resume/force question below; the claims keep a second run away.
        for target in (out, partial, errors_file):
            claims.enter_context(
                atomic.check_output(
                    target, force=True, inputs=[*inputs, ("folder of images", root)], what="embed"
                )
            )
        return _embed_folder(
            root, out, partial, errors_file, encoder, resume, force, strict, show_progress, log, shard
        )


def _embed_folder(
    root: Path,
    out: Path,
    partial: Path,
    errors_file: Path,
    encoder: OnnxEncoder | Callable[[], OnnxEncoder],
    resume: bool,
    force: bool,
    strict: bool,
    show_progress: bool,
    log: Callable[[str], None] | None,
    shard: tuple[int, int] | None,
) -> EmbedFolderResult:
    files = find_images(root)
    if not files:
        raise DataError(
            f"no images under {root} (painter-match reads .jpg .jpeg .png .webp .bmp .tif .tiff .gif)"
        )
    relative = [f.relative_to(root).as_posix() for f in files]
    if shard is not None:
        from painter_match.inference.scale_out.shards import select_shard

        k, n = shard
        relative = select_shard(relative, k, n)
        if not relative:
            raise DataError(
                f"shard {k}/{n} of {root} holds none of its {len(files):,} images; use fewer shards"
            )
    with atomic.OutputLock(out, "embed"):
        existing = [p for p in (partial, out) if p.exists()]
        if existing and not (resume or force):
            raise DataError.naming(
                f"{existing[0]} already exists; pass {{resume}} to embed only the images not in it yet, "
                "or {force} to start over",
                resume=RESUME,
                force=FORCE,
            )
        if not isinstance(encoder, OnnxEncoder):
            encoder = encoder()
        return _embed(
            encoder,
            root,
            out,
            partial,
            errors_file,
            relative,
            existing,
            resume,
            strict,
            show_progress,
            log,
            shard=shard,
        )


def _shard_text(shard: tuple[int, int] | None) -> str:
    return f"shard {shard[0]}/{shard[1]}" if shard is not None else "the whole folder (no --shard)"


def _resumable(existing: Path, partial: Path, out: Path) -> Embeddings:
    """The file a run resumes from, or a one-line error saying what to do with a damaged one."""
    try:
        return load_embeddings(existing)
    except DataError as error:
        if existing == partial:
            # A partial file is written atomically, but a disk fault or a copy can still damage it.
            instead = f"resume from {out}" if out.exists() else "start again from the first image"
            error.extend(
                *spell(
                    f"the progress file is damaged: delete {partial} to {instead}, or pass {{force}}",
                    force=FORCE,
                )
            )
        raise


def _changed_since(done: Embeddings, stamps: dict[str, tuple[int, int, int]]) -> set[str]:
    """The paths of ``done`` whose file changed (size, modification or change time) since it was
    embedded; a path without a recorded stamp counts as unchanged (files from before stamps)."""
    if done.stamps is None:
        return set()
    changed = set()
    for path, recorded in zip(done.paths, done.stamps.tolist()):
        now = stamps.get(path)
        if now is not None and tuple(recorded) != UNKNOWN_STAMP and tuple(recorded) != now:
            changed.add(path)
    return changed


def _embed(
    encoder: OnnxEncoder,
    root: Path,
    out: Path,
    partial: Path,
    errors_file: Path,
    relative: list[str],
    existing: list[Path],
    resume: bool,
    strict: bool,
    show_progress: bool,
    log: Callable[[str], None] | None,
    *,
    shard: tuple[int, int] | None = None,
) -> EmbedFolderResult:
    model = encoder.model
    # The finder's mode is part of the identity: a resumed run never mixes cropped and whole images.
    source = EmbeddingSource(model.info, encoder.views, encoder.find_painting, encoder.painting_edge)
    root_abs = str(root.resolve())
    # Each image's size and times now, before any is read: recorded with its vector, so that a
    # resumed run sees which files were replaced since (a change while this run reads a file
    # shows as a change next time: embedded again, never kept stale).
    stamps = {r: file_stamp(root / r) for r in relative}

    done: Embeddings | None = None
    if resume and existing:
        done = _resumable(existing[0], partial, out)
        if done.source.space == source.space and done.source.identity != source.identity:
            raise DataError.naming(
                f"{existing[0]} was embedded with {{was}}, not {{now}}; images cropped to the painting and "
                "whole images cannot be mixed in one file: resume with {was}, or {force} to start over",
                was=done.source.finder_options,
                now=source.finder_options,
                force=FORCE,
            )
        if done.source.identity != source.identity:
            raise DataError.naming(
                f"{existing[0]} was made by model {done.source.identity}, not {source.identity} "
                f"({model.path}); embeddings of two models cannot be mixed: use the same model and {{views}}, "
                "or {force} to start over",
                views=("views", "--views"),
                force=FORCE,
            )
        if done.root and done.root != root_abs:
            raise DataError.naming(
                f"{existing[0]} holds images of {done.root}, not {root_abs}; use another {{out}}, or {{force}} "
                "to start over",
                out=("out", "-o"),
                force=FORCE,
            )
        if done.shard != shard:
            raise DataError.naming(
                f"{existing[0]} holds {_shard_text(done.shard)}, not {_shard_text(shard)}; use another {{out}}, "
                "or {force} to start over",
                out=("out", "-o"),
                force=FORCE,
            )
        changed = _changed_since(done, stamps)
        kept = [p for p in relative if p not in changed]
        done = merge(kept, [done], source, root_abs)  # images deleted or replaced since are dropped
        if log is not None:
            log(
                f"resuming from {existing[0]}: {len(done):,} of {len(relative):,} images already embedded"
                + (f"; {len(changed):,} changed since, embedded again" if changed else "")
            )
    already = set(done.paths) if done is not None else set()
    todo = [r for r in relative if r not in already]

    saver = _Saver(partial, done, source, root_abs, stamps=stamps, shard=shard)
    failures: list[Failure] = []
    started = time.monotonic()
    try:
        with progress_bar("embedding", len(todo), quiet=not show_progress, unit="images") as bar:
            for batch in encoder.iter_encode(root / r for r in todo):
                saver.add([todo[i] for i in batch.indices.tolist()], batch.vectors, batch.paintings)
                for failure in batch.failures:
                    failures.append(Failure(failure.index, todo[failure.index], failure.cause))
                    if strict:
                        raise DataError.naming(
                            f"{root / todo[failure.index]}: {failure.cause} ({{strict}}; without it unreadable "
                            "images are skipped and listed)",
                            strict=STRICT,
                        )
                bar.advance(batch.count)
    except EmbedInterrupted:
        raise
    except KeyboardInterrupt:
        # Ctrl-C or SIGTERM: keep what was done for resume, and say so in the one line.
        raise EmbedInterrupted(*spell(saver.keep(), resume=RESUME)) from None
    except PainterMatchError as error:
        # strict, or a partial file the disk refused: the same, in the error's one line.
        error.extend(*spell(saver.keep(), resume=RESUME))
        raise
    seconds = time.monotonic() - started
    result = saver.collected(relative)
    if len(result) == 0:
        write_errors(errors_file, ((f.path, f.cause) for f in failures))
        first = failures[0] if failures else None
        example = f" (e.g. {first.path}: {first.cause})" if first else ""
        raise DataError(
            f"none of the {len(relative):,} images under {root} could be embedded{example}; all are listed in "
            f"{errors_file}, and no {out} was written"
        )
    try:
        save_embeddings(out, result)
    except OutputError as error:
        error.extend(*spell(saver.keep(), resume=RESUME))
        raise
    partial.unlink(missing_ok=True)
    if failures:
        write_errors(errors_file, ((f.path, f.cause) for f in failures))
    else:
        errors_file.unlink(missing_ok=True)  # a list from an earlier run would now be wrong
    return EmbedFolderResult(
        output=out,
        embeddings=result,
        images=len(relative),
        embedded=len(saver.paths),
        resumed=len(already),
        failures=failures,
        errors_csv=errors_file if failures else None,
        seconds=seconds,
    )
