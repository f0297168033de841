"""What to generate (`SynthConfig`) and what was written (`SynthSummary`), with the CSV columns of
the Kaggle layout and the random streams every part of the output draws from."""

from __future__ import annotations

import math
import os
from dataclasses import asdict, dataclass, fields

import numpy as np

from painter_match.errors import DataError

TRAIN_INFO_COLUMNS = ("filename", "artist", "title", "style", "genre", "date")
ALL_DATA_INFO_COLUMNS = (
    "artist",
    "date",
    "genre",
    "pixelsx",
    "pixelsy",
    "size_bytes",
    "source",
    "style",
    "title",
    "artist_group",
    "in_train",
    "new_filename",
)
SUBMISSION_INFO_COLUMNS = ("index", "image1", "image2")
SOLUTION_COLUMNS = ("index", "sameArtist")

# Streams of the per-config SeedSequence. Each part of the output draws from its own stream so
# that, e.g., adding corrupt files does not change the paintings.
_STREAM_COUNTS, _STREAM_STYLE, _STREAM_PAINTING, _STREAM_PLAN, _STREAM_META, _STREAM_CORRUPT = range(6)

# Shares of the special image kinds; the real data has all of them.
_PNG_SHARE, _GREY_SHARE, _CMYK_SHARE = 0.10, 0.05, 0.02
# Cap on drawing calls per painting, which bounds the rendering time whatever the style.
_MAX_STROKES = 3500
# What the plan holds in memory, measured on a plan of 10,192 paintings and 69,732 pairs (680
# bytes a painting, pairs included) and rounded up: a painting's record, an artist's style and
# name, a pair's two indices and its label as the tables are written.
_BYTES_PER_PAINTING = 1024
_BYTES_PER_ARTIST = 4096
_BYTES_PER_PAIR = 64
# The share of the machine's memory a plan may take.
_MEMORY_SHARE = 0.5


def _machine_memory() -> int | None:
    """The machine's physical memory in bytes, or None where the system does not say."""
    try:
        return int(os.sysconf("SC_PAGE_SIZE")) * int(os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):
        return None


class SynthConfigError(DataError, ValueError):
    """An invalid synthetic-data option. A ValueError for callers, a DataError for the CLI."""


@dataclass(frozen=True)
class SynthConfig:
    """What to generate. Invalid values raise `SynthConfigError` when the config is built.

    Attributes:
        seed: the same seed (and options) gives byte-identical output.
        artists: artists with paintings in train/ (some of their paintings also go to test/).
        test_artists: artists that appear only in test/, never seen in training.
        paintings: mean paintings per artist; each artist gets at least 2, some many more.
        test_fraction: share of each training artist's paintings placed in test/.
        group_size: test images are shuffled into groups of this size and every pair within a
            group is listed, as in the real competition.
        balanced_pairs: if set, list this many pairs sampled half same-artist, half different,
            instead of the groups.
        corrupt: extra corrupt files (truncated JPEG, 0-byte file, text named .jpg), listed in
            the CSVs like real images.
        min_size: smallest long side, pixels.
        max_size: largest long side, pixels.
        workers: paintings painted at once, in processes (`painter_match.workers`); 1 paints in
            this process, None one per available core. The output does not depend on it.
    """

    seed: int = 0
    artists: int = 24
    test_artists: int = 8
    paintings: int = 14
    test_fraction: float = 0.2
    group_size: int = 40
    balanced_pairs: int | None = None
    corrupt: int = 0
    min_size: int = 300
    max_size: int = 2000
    workers: int | None = None

    def __post_init__(self) -> None:
        for item in fields(self):
            value = getattr(self, item.name)
            flag = "--" + item.name.replace("_", "-")
            if item.name == "test_fraction":
                if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                    raise SynthConfigError(f"{flag} must be a number, got {value!r}")
            elif item.name in ("balanced_pairs", "workers") and value is None:
                continue
            elif isinstance(value, bool) or not isinstance(value, (int, np.integer)):
                raise SynthConfigError(f"{flag} must be an integer, got {value!r}")
        _at_least("--seed", self.seed, 0)
        _at_least("--artists", self.artists, 2)
        _at_least("--test-artists", self.test_artists, 0)
        _at_least("--paintings", self.paintings, 2)
        if not 0.0 <= self.test_fraction < 1.0:
            raise SynthConfigError(f"--test-fraction must be in [0, 1), got {self.test_fraction}")
        if self.test_fraction == 0 and self.test_artists == 0:
            raise SynthConfigError("no test images: set --test-fraction > 0 or --test-artists > 0")
        _at_least("--group-size", self.group_size, 2)
        if self.balanced_pairs is not None:
            _at_least("--balanced-pairs", self.balanced_pairs, 2)
        _at_least("--corrupt", self.corrupt, 0)
        _at_least("--min-size", self.min_size, 32)
        if self.max_size < self.min_size:
            raise SynthConfigError(f"--max-size ({self.max_size}) must be >= --min-size ({self.min_size})")
        if self.max_size > 20_000:
            raise SynthConfigError(f"--max-size must be <= 20000, got {self.max_size}")
        if self.workers is not None:
            _at_least("--workers", self.workers, 1)
        self._check_fits()

    def expected_paintings(self) -> int:
        """About how many paintings the config asks for (the mean per artist times the artists),
        computed without drawing them: `paintings_per_artist` draws one number per artist."""
        return self.total_artists() * self.paintings

    def expected_pairs(self) -> int:
        """About how many pairs ``submission_info.csv`` will list."""
        if self.balanced_pairs is not None:
            return self.balanced_pairs
        tests = round(self.artists * self.paintings * self.test_fraction) + self.test_artists * self.paintings
        group = min(self.group_size, max(tests, 1))
        return tests * (group - 1) // 2

    def memory_estimate(self) -> int:
        """Bytes the plan takes in memory before the first painting is drawn (see `_check_fits`)."""
        return (
            self.total_artists() * _BYTES_PER_ARTIST
            + (self.expected_paintings() + self.corrupt) * _BYTES_PER_PAINTING
            + self.expected_pairs() * _BYTES_PER_PAIR
        )

    def _check_fits(self) -> None:
        """Refuse, before anything is drawn, a config whose plan cannot fit in this machine's memory.

        The whole plan (every painting's size, names and folder, every pair) is made up front so
        that the output does not depend on the workers; ``--artists 100000000 --paintings 100000``
        grew without bound and ended in a MemoryError traceback.

        Raises:
            SynthConfigError: naming the estimate, the memory, and the options to lower.
        """
        need = self.memory_estimate()
        total = _machine_memory()
        if total is None or need <= total * _MEMORY_SHARE:
            return
        raise SynthConfigError(
            f"--artists {self.artists} --test-artists {self.test_artists} --paintings {self.paintings} ask for "
            f"about {self.expected_paintings():,} paintings and {self.expected_pairs():,} pairs, whose plan needs "
            f"about {need / 2**30:,.1f} GiB of memory, more than half of this machine's {total / 2**30:,.1f} GiB; "
            "lower --artists, --paintings or --group-size (or give --balanced-pairs)"
        )

    def total_artists(self) -> int:
        """Artists in the data set: training artists plus test-only artists."""
        return self.artists + self.test_artists

    def paintings_per_artist(self) -> list[int]:
        """How many paintings each artist gets (training artists first), without rendering anything."""
        rng = _rng(self.seed, _STREAM_COUNTS)
        n = self.total_artists()
        # Log-normal around the mean: most artists near it, a few prolific ones, as in the real data.
        # Capped at three times the mean so that one artist's pairs do not swamp the test pairs.
        sigma = 0.45
        raw = self.paintings * rng.lognormal(-sigma * sigma / 2, sigma, size=n)
        return [max(2, min(3 * self.paintings, round(x))) for x in raw]

    def total_paintings(self) -> int:
        """The number of paintings `generate` renders (corrupt files not included): the progress total."""
        return sum(self.paintings_per_artist())


def _at_least(flag: str, value: int, minimum: int) -> None:
    if value < minimum:
        raise SynthConfigError(f"{flag} must be >= {minimum}, got {value}")


@dataclass(frozen=True)
class SynthSummary:
    """What `generate` wrote; the CLI prints it, or its `to_dict` as JSON.

    Attributes:
        out_dir: the folder written.
        artists: all artists (training artists plus test-only artists).
        train_artists: artists with paintings in train/.
        test_only_artists: artists found only in test/.
        paintings: rendered paintings (corrupt files not included).
        train_images: files in train/ (corrupt ones included).
        test_images: files in test/ (corrupt ones included).
        corrupt: corrupt files written.
        pairs: rows of submission_info.csv.
        same_artist_pairs: pairs whose two images share an artist.
        same_artist_share: ``same_artist_pairs / pairs``.
        pair_mode: ``"groups of N"`` or ``"balanced"``.
        seconds: wall time of the run.
    """

    out_dir: str
    artists: int
    train_artists: int
    test_only_artists: int
    paintings: int
    train_images: int
    test_images: int
    corrupt: int
    pairs: int
    same_artist_pairs: int
    same_artist_share: float
    pair_mode: str
    seconds: float

    def to_dict(self) -> dict[str, object]:
        """The summary as JSON-ready values."""
        data = asdict(self)
        data["same_artist_share"] = round(self.same_artist_share, 6)
        data["seconds"] = round(self.seconds, 3)
        return data

    def describe(self) -> str:
        """A few human-readable lines."""
        artists = f"{self.artists} ({self.train_artists} in train, {self.test_only_artists} only in test)"
        pairs = f"{self.pairs:,} ({self.pair_mode}), {self.same_artist_share:.2%} same-artist"
        return "\n".join(
            [
                f"wrote {self.out_dir} in {self.seconds:.1f} s",
                f"  artists     {artists}",
                f"  paintings   {self.paintings} rendered + {self.corrupt} corrupt files",
                f"  images      {self.train_images} in train/, {self.test_images} in test/",
                f"  pairs       {pairs} ({self.same_artist_pairs:,})",
            ]
        )


def _rng(seed: int, *key: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=key))
