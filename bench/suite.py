"""Which comparisons a bench run makes, in what order, at what size; and the figures derived from them.

`Settings` holds the sizes and repeat counts of the three modes (full, ``--quick``, ``--smoke``).
`run_suite` prepares the inputs (`bench.data`, `bench.networks`), runs every comparison of the
chosen stages in its own child (`bench.runner.run_child`), then adds what is computed from several
rows: the decode rate of the mixed folder, the stage bound of each end-to-end run and the fraction
of it reached, and painter-match's ratio to the usual way. The ``real`` stage (`bench.real`) does
the same for the model `painter-match embed` uses when given none, with its own view policy.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from bench import data, finder, real
from bench.embed_e2e import stage_bound
from bench.machine import cores
from bench.runner import BenchError, run_child
from bench.targets import KAGGLE_PAIRS

STAGES = ("decode", "model", "embed", "usual", "real", "finder", "score")
KAGGLE_IMAGES = 23_817
EMBED_BATCH = 32  # the CLI's default --batch-size; the stage bound uses the model rate at it
LITE_BACKBONE = "efficientnet_lite0"
LITE_INPUT = 224


@dataclass(frozen=True)
class Settings:
    """Sizes and repeats of one mode."""

    decode_images: int  # per size class, per loader
    decode_repeats: int
    batch_sizes: tuple[int, ...]
    model_repeats: int
    model_min_seconds: float
    ceiling_n: int
    embed_images: int  # per size class, in the end-to-end folder
    embed_repeats: int
    pairs: int
    score_repeats: int
    pandas_repeats: int
    lite: bool  # also bench efficientnet_lite0 at 224 (model only)
    warmup: int = 1
    gpu_batch_sizes: tuple[int, ...] = (1, 32, 256, 1024)
    reference_paintings: int = 80_000  # the labelled reference of `score --reference` (Kaggle's train/)
    reference_queries: int = KAGGLE_IMAGES
    # Per size class in the real model's end-to-end folder: 100 (300 paintings), as for the embed
    # rows, so that filling and draining the pipeline and opening the session are a small part.
    real_images: int = 100
    real_repeats: int = 3
    # The painting finder's cost (`bench.finder`): images per size class, and gallery photos.
    finder_images: int = 8
    finder_repeats: int = 3


FULL = Settings(
    decode_images=12,
    decode_repeats=5,
    batch_sizes=(1, 8, 32, 128),
    model_repeats=5,
    model_min_seconds=0.5,
    ceiling_n=2048,
    # 300 images: enough that filling and draining the decode pipeline (about one batch each
    # end) is a small part of the run, as it is for a real folder of thousands.
    embed_images=100,
    embed_repeats=3,
    pairs=KAGGLE_PAIRS,
    score_repeats=3,
    pandas_repeats=1,
    lite=True,
)
QUICK = Settings(
    decode_images=3,
    decode_repeats=2,
    batch_sizes=(1, 32),
    model_repeats=3,
    model_min_seconds=0.1,
    ceiling_n=1024,
    embed_images=4,
    embed_repeats=1,
    pairs=200_000,
    score_repeats=1,
    pandas_repeats=1,
    lite=False,
    gpu_batch_sizes=(1, 256),
    reference_paintings=4_000,
    reference_queries=2_000,
    real_images=1,
    real_repeats=1,
    finder_images=2,
    finder_repeats=1,
)
SMOKE = replace(
    QUICK,
    decode_images=1,
    decode_repeats=1,
    batch_sizes=(4,),
    model_repeats=1,
    model_min_seconds=0.0,
    ceiling_n=256,
    embed_images=1,
    pairs=20_000,
    warmup=0,
    gpu_batch_sizes=(4,),
)


@dataclass
class Options:
    """What the command line asked for."""

    settings: Settings
    stages: tuple[str, ...] = STAGES
    providers: tuple[str, ...] = ("cpu",)
    workdir: Path = Path("/tmp/painter-match-bench")
    model: str | None = None
    checkpoint: str | None = None
    backbone: str = "compact"
    input_size: int = 96
    embedding_dim: int = 256
    profile_dir: Path | None = None
    timeout: float = 1800.0
    effective_cores: float | None = None  # measured at the start (`bench.machine.effective_cores`)
    embed_views: int | None = None  # `embed --views N` in the end-to-end rows (None: the model's own)
    real_model: str | None = None  # the ``real`` stage's default model (None: the packaged one)
    real_twin: str | None = None  # its fp32 twin (None: models/painter-match-real.onnx, else a fresh export)
    log: Callable[[str], None] = field(default=lambda line: print(line, file=sys.stderr, flush=True))
    # Filled by the run: "stage: why" for each comparison left out because this install lacks what
    # it needs (torch and onnx on an inference-only install), never an error.
    skipped: list[str] = field(default_factory=list)


# What each kind of comparison imports beyond the inference install (numpy, Pillow, onnxruntime).
FRESH_MODEL = ("torch", "onnx", "onnxscript")  # `bench.networks.prepare`: export a fresh encoder
USUAL_WAY = ("torch", "torchvision")  # the PyTorch DataLoader way
CEILING = ("onnx",)  # `bench.model.ceiling` builds its graph with onnx.helper
TRAIN_EXTRA = 'pip install "painter-match[train]"'


def needs(modules: tuple[str, ...]) -> str | None:
    """Why a comparison cannot run here (the modules this install lacks, and how to get them), or None."""
    absent = real.missing(modules)
    if not absent:
        return None
    names = absent[0] if len(absent) == 1 else f"{', '.join(absent[:-1])} and {absent[-1]}"
    return f"needs {names}, not installed ({TRAIN_EXTRA})"


def available_providers() -> tuple[str, ...]:
    """The providers of ``cpu``, ``cuda``, ``tensorrt`` this onnxruntime offers (none without it)."""
    try:
        import onnxruntime as ort
    except ImportError:
        return ()

    have = set(ort.get_available_providers())
    names = {
        "cpu": "CPUExecutionProvider",
        "cuda": "CUDAExecutionProvider",
        "tensorrt": "TensorrtExecutionProvider",
    }
    return tuple(p for p, name in names.items() if name in have)


def _lite_available() -> bool:
    """Whether this checkout has the EfficientNet-Lite backbone (plain-Python config, no torch)."""
    try:
        from painter_match.train.config import BACKBONES
    except ImportError:
        return False
    return LITE_BACKBONE in BACKBONES


class _Suite:
    def __init__(self, options: Options) -> None:
        self.o = options
        self.s = options.settings
        self.cores = cores()
        self.effective_cores = options.effective_cores
        self.rows: list[dict[str, Any]] = []
        self.errors: list[str] = []

    def skip(self, what: str, why: str) -> None:
        """Leave ``what`` out for ``why``: one line in the results (printed at the end), never an error."""
        line = f"{what}: {why}"
        if line not in self.o.skipped:
            self.o.skipped.append(line)

    def child(
        self, target: str, kwargs: dict[str, Any], label: str, threads: int | None = None
    ) -> list[dict[str, Any]]:
        self.o.log(f"bench: {label} ...")
        try:
            rows = run_child(
                target,
                kwargs,
                threads=threads,
                timeout=self.o.timeout,
                profile_dir=self.o.profile_dir,
                label=label,
            )
        except BenchError as err:
            self.errors.append(str(err))
            self.o.log(f"bench: {err}")
            return []
        self.rows.extend(rows)
        return rows

    # --- inputs ---------------------------------------------------------------------------

    def images(self, per_size: int) -> dict[str, list[Path]]:
        return data.realistic_images(self.o.workdir, per_size)

    def prepare(self, backbone: str, input_size: int, given: bool) -> dict[str, Any] | None:
        why = needs(FRESH_MODEL)
        if why is not None:
            self.skip(f"model, embed and usual rows of {backbone}-{input_size}", why)
            return None
        calibration = [str(p) for paths in self.images(max(2, self.s.decode_images)).values() for p in paths]
        kwargs = {
            "workdir": str(self.o.workdir),
            "backbone": backbone,
            "input_size": input_size,
            "embedding_dim": self.o.embedding_dim,
            "calibration_images": calibration,
            "model": self.o.model if given else None,
            "checkpoint": self.o.checkpoint if given else None,
            "fp16": any(p != "cpu" for p in self.o.providers),
        }
        self.o.log(f"bench: preparing {backbone}-{input_size} models in {self.o.workdir} ...")
        try:
            return run_child(
                "bench.networks:prepare", kwargs, timeout=self.o.timeout, label=f"prepare-{backbone}"
            )[0]
        except BenchError as err:
            self.errors.append(str(err))
            self.o.log(f"bench: {err}")
            return None

    # --- stages ---------------------------------------------------------------------------

    def decode(self, size: int) -> None:
        files = self.images(self.s.decode_images)
        per_loader: dict[str, list[dict[str, Any]]] = {}
        loaders = ["painter-match", "usual"]
        why = needs(USUAL_WAY)
        if why is not None:
            self.skip("decode, the usual loader (torchvision)", why)
            loaders.remove("usual")
        for loader in loaders:
            rows = []
            for size_class, paths in files.items():
                rows += self.child(
                    "bench.decode:measure",
                    {
                        "paths": [str(p) for p in paths],
                        "loader": loader,
                        "size": size,
                        "size_class": size_class,
                        "warmup": self.s.warmup,
                        "repeats": self.s.decode_repeats,
                        "profile": self.o.profile_dir is not None,
                    },
                    f"decode-{loader}-{size_class}",
                    threads=1,
                )
            per_loader[loader] = rows
        for loader, rows in per_loader.items():
            if len(rows) == len(files):
                # Equal numbers of each class: seconds per image average, rate is the harmonic mean.
                rate = len(rows) / sum(1.0 / r["value"] for r in rows)
                self.rows.append(
                    {
                        "stage": "decode",
                        "name": f"{loader} mix (1/3 each size)",
                        "loader": loader,
                        "size_class": "mix",
                        "value": rate,
                        "unit": "images/s/core",
                        "derived": True,
                        "peak_rss_mb": max(r["peak_rss_mb"] for r in rows),
                    }
                )

    def model(self, prepared: dict[str, Any]) -> None:
        for provider in self.o.providers:
            gpu = provider != "cpu"
            batches = list(self.s.gpu_batch_sizes if gpu else self.s.batch_sizes)
            for variant, path in prepared["variants"].items():
                if gpu and variant == "int8" or not gpu and variant == "fp16":
                    continue  # int8 is the CPU variant, fp16 the GPU one
                for io_binding in (False, True) if gpu else (False,):
                    self.child(
                        "bench.model:measure",
                        {
                            "path": path,
                            "variant": variant,
                            "model_name": prepared["name"],
                            "provider": provider,
                            "batch_sizes": batches,
                            "threads": self.cores,
                            "flops_per_image": prepared["flops_per_image"],
                            "warmup": max(1, self.s.warmup) * 2,
                            "repeats": self.s.model_repeats,
                            "min_seconds": self.s.model_min_seconds,
                            "io_binding": io_binding,
                        },
                        f"model-{prepared['name']}-{variant}-{provider}" + ("-iobind" if io_binding else ""),
                    )

    def ceiling(self) -> None:
        why = needs(CEILING)
        if why is not None:
            self.skip("model, the machine's ceiling (a matrix product built with onnx)", why)
            return
        for provider in self.o.providers:
            self.child(
                "bench.model:ceiling",
                {
                    "threads": self.cores,
                    "n": self.s.ceiling_n,
                    "warmup": 1,
                    "repeats": self.s.model_repeats,
                    "provider": provider,
                },
                f"ceiling-{provider}",
            )

    def embed(self, prepared: dict[str, Any]) -> None:
        root = data.image_folder(self.o.workdir, self.s.embed_images)
        for provider in self.o.providers:
            gpu = provider != "cpu"
            for variant, path in prepared["variants"].items():
                if gpu and variant == "int8" or not gpu and variant == "fp16":
                    continue
                # On a GPU the model needs no CPU cores, so every core decodes.
                extra = ["--workers", str(self.cores)] if gpu else []
                if self.o.embed_views is not None:
                    extra += ["--views", str(self.o.embed_views)]
                self.child(
                    "bench.embed_e2e:measure",
                    {
                        "root": str(root),
                        "model": path,
                        "variant": variant,
                        "provider": provider,
                        "warmup": 1,
                        "repeats": self.s.embed_repeats,
                        "extra_args": extra,
                    },
                    f"embed-{variant}-{provider}",
                )

    def usual(self, prepared: dict[str, Any]) -> None:
        root = data.image_folder(self.o.workdir, self.s.embed_images)
        self.child(
            "bench.usual_way:measure",
            {
                "root": str(root),
                "eager": prepared["eager"],
                "size": prepared["input_size"],
                "batch_size": EMBED_BATCH,
                "workers": self.cores,
                "warmup": 1,
                "repeats": self.s.embed_repeats,
            },
            "usual-way",
        )

    def score(self, dim: int) -> None:
        self.o.log(f"bench: pairs file of {self.s.pairs:,} rows (cached in {self.o.workdir / 'pairs'}) ...")
        paths = data.kaggle_pairs(self.o.workdir, self.s.pairs, KAGGLE_IMAGES, dim)
        common = {**paths, "pairs": self.s.pairs}
        self.child(
            "bench.score:measure",
            {
                **common,
                "warmup": self.s.warmup,
                "repeats": self.s.score_repeats,
                "profile": self.o.profile_dir is not None,
            },
            "score-painter-match",
        )
        self.child("bench.score:measure_pandas", {**common, "repeats": self.s.pandas_repeats}, "score-pandas")
        # Reference scoring (issue 18): the top-k search of Kaggle's test paintings against an
        # 80k-painting reference, and the pairs scored with it; judged against the row above.
        self.child(
            "bench.reference:measure",
            {
                "references": self.s.reference_paintings,
                "queries": self.s.reference_queries,
                "pairs": self.s.pairs,
                "dim": dim,
                "repeats": self.s.score_repeats,
            },
            "score-reference",
        )

    def real(self) -> None:
        """The default model end to end with its own views, against its stage bound and the usual way."""
        s = self.s
        calibration = [str(p) for paths in self.images(1).values() for p in paths]
        self.o.log("bench: preparing the default model and its fp32 twin ...")
        try:
            prepared = run_child(
                "bench.real:prepare",
                {
                    "workdir": str(self.o.workdir),
                    "calibration_images": calibration,
                    "model": self.o.real_model,
                    "twin": self.o.real_twin,
                },
                timeout=self.o.timeout,
                label="prepare-real",
            )[0]
        except BenchError as err:
            self.errors.append(str(err))
            self.o.log(f"bench: {err}")
            return
        if prepared.get("skip"):
            self.skip("real", prepared["skip"])
            return
        if prepared.get("partial"):
            self.skip("real, part", prepared["partial"])
        crops, crop_scale, size = prepared["crops"], prepared["crop_scale"], prepared["input_size"]
        views = 1 + crops
        name = prepared["name"]
        tag = f"{name}, {views} view{'s' if views > 1 else ''}"
        files = self.images(max(s.decode_images, 1))
        decoded = []
        for size_class, paths in files.items():
            for row in self.child(
                "bench.decode:measure",
                {
                    "paths": [str(p) for p in paths],
                    "loader": "painter-match",
                    "size": size,
                    "size_class": size_class,
                    "warmup": s.warmup,
                    "repeats": s.decode_repeats,
                    "profile": self.o.profile_dir is not None,
                    "crops": crops,
                    "crop_scale": crop_scale,
                },
                f"real-decode-{size_class}",
                threads=1,
            ):
                row.update(stage="real", name=f"decode {size_class} at {size} px ({tag})", real="decode")
                decoded.append(row)
        if len(decoded) == len(files):
            self.rows.append(
                {
                    "stage": "real",
                    "name": f"decode mix (1/3 each size; {tag})",
                    "real": "decode mix",
                    "size_class": "mix",
                    "value": len(decoded) / sum(1.0 / r["value"] for r in decoded),
                    "unit": "paintings/s/core",
                    "derived": True,
                    "peak_rss_mb": max(r["peak_rss_mb"] for r in decoded),
                }
            )
        for variant, path in prepared["variants"].items():
            for row in self.child(
                "bench.model:measure",
                {
                    "path": path,
                    "variant": variant,
                    "model_name": name,
                    "provider": "cpu",
                    "batch_sizes": [EMBED_BATCH * views],  # one call holds every view of a batch
                    "threads": self.cores,
                    "flops_per_image": prepared["flops_per_image"],
                    "warmup": max(1, s.warmup) * 2,
                    "repeats": s.model_repeats,
                    "min_seconds": s.model_min_seconds,
                },
                f"real-model-{variant}",
            ):
                row.update(
                    stage="real",
                    name=f"model {variant} on views, batch {row['batch_size']} ({name})",
                    real="model",
                    unit="views/s",
                    source=prepared["sources"][variant],
                )
        root = data.image_folder(self.o.workdir, s.real_images)
        for variant, path in prepared["variants"].items():
            for row in self.child(
                "bench.embed_e2e:measure",
                {
                    "root": str(root),
                    "model": path,
                    "variant": variant,
                    "provider": "cpu",
                    "warmup": 1,
                    "repeats": s.real_repeats,
                },
                f"real-embed-{variant}",
            ):
                row.update(
                    stage="real",
                    name=f"painter-match embed {variant} ({tag}; {prepared['sources'][variant]})",
                    real="embed",
                    unit="paintings/s",
                    views=views,
                    views_per_s=row["value"] * views,
                    source=prepared["sources"][variant],
                    is_default=prepared["is_default"] and variant != "fp32",
                )
        # No eager network on an inference-only install (`prepare` said so in "partial").
        usual_rows = (
            self.child(
                "bench.usual_way:measure",
                {
                    "root": str(root),
                    "eager": prepared["eager"],
                    "size": size,
                    "batch_size": EMBED_BATCH,
                    "workers": self.cores,
                    "warmup": 1,
                    "repeats": s.real_repeats,
                    "crops": crops,
                    "crop_scale": crop_scale,
                },
                "real-usual-way",
            )
            if prepared["eager"] is not None
            else []
        )
        for row in usual_rows:
            row.update(stage="real", name=f"usual way fp32 eager ({tag}; DataLoader x{self.cores})")
            row.update(real="usual", unit="paintings/s")
        self.rows.append(real.auc_drift())

    def derive_real(self) -> None:
        rows = [r for r in self.rows if r["stage"] == "real"]
        decode = next((r for r in rows if r.get("real") == "decode mix"), None)
        usual = next((r for r in rows if r.get("real") == "usual"), None)
        for row in rows:
            if row.get("real") != "embed":
                continue
            model = next(
                (r for r in rows if r.get("real") == "model" and r.get("variant") == row["variant"]), None
            )
            if decode is not None and model is not None:
                # The model rate is views/s; a painting costs `views` of them.
                per_painting = model["value"] / row["views"]
                bound = stage_bound(decode["value"], per_painting, self.cores)
                row.update(bound=bound, bound_fraction=row["value"] / bound if bound else None)
                row.update(decode_per_core=decode["value"], model_rate=per_painting)
                effective = self.effective_cores
                if effective and effective < 0.9 * self.cores:
                    bound_effective = stage_bound(decode["value"], per_painting, effective)
                    row["effective_cores"] = effective
                    row["bound_effective"] = bound_effective
                    row["bound_effective_fraction"] = row["value"] / bound_effective
            if usual is not None:
                row["vs_usual"] = row["value"] / usual["value"]

    def finder(self) -> None:
        """Embedding with find_painting=auto against off, on realistic JPEGs and gallery photos."""
        n = max(1, self.s.finder_images)
        folders = {
            "realistic JPEGs": [str(p) for paths in self.images(n).values() for p in paths],
            "gallery photos": [str(p) for p in finder.gallery_photos(self.o.workdir, 3 * n)],
        }
        for folder, paths in folders.items():
            self.child(
                "bench.finder:measure",
                {
                    "paths": paths,
                    "folder": folder,
                    "model": self.o.real_model,
                    "repeats": self.s.finder_repeats,
                    "workers": self.cores,
                },
                f"finder-{folder.split()[0]}",
            )

    # --- derived figures ------------------------------------------------------------------

    def derive(self) -> None:
        decode = next((r for r in self.rows if r.get("name", "").startswith("painter-match mix")), None)
        usual = next((r for r in self.rows if r["stage"] == "usual"), None)
        ceilings = {
            r["variant"]: r["value"] for r in self.rows if r.get("ceiling") and r["provider"] == "cpu"
        }
        first_model = next((r["model"] for r in self.rows if r["stage"] == "model" and "model" in r), None)
        for row in self.rows:
            if row["stage"] == "model" and "gflops" in row and row["provider"] == "cpu":
                ceiling = ceilings.get(row["variant"] if row["variant"] == "int8" else "fp32")
                if ceiling:
                    row["ceiling_gflops"] = ceiling
                    row["ceiling_fraction"] = row["gflops"] / ceiling
            if row["stage"] != "embed":
                continue
            model = min(
                (
                    r
                    for r in self.rows
                    if r["stage"] == "model"
                    and r.get("model") == first_model
                    and r.get("variant") == row["variant"]
                    and r.get("provider") == row["provider"]
                    and not r.get("io_binding")
                ),
                key=lambda r: abs(r["batch_size"] - EMBED_BATCH),  # the CLI's batch, or the nearest
                default=None,
            )
            if decode is not None and model is not None:
                gpu = row["provider"] != "cpu"
                # On a GPU the model does not take CPU time: the bound is the slower of the two.
                bound = (
                    min(decode["value"] * self.cores, model["value"])
                    if gpu
                    else stage_bound(decode["value"], model["value"], self.cores)
                )
                row["bound"] = bound
                row["bound_fraction"] = row["value"] / bound if bound else None
                effective = self.effective_cores
                if not gpu and effective and effective < 0.9 * self.cores:
                    # Other jobs hold part of the cores. E = N threads' speed-up over one thread, and
                    # the decode rate was measured on one thread under the same sharing, so decoding
                    # on every thread gives d * E; the model rate was measured on all threads already.
                    bound_effective = stage_bound(decode["value"], model["value"], effective)
                    row["effective_cores"] = effective
                    row["bound_effective"] = bound_effective
                    row["bound_effective_fraction"] = row["value"] / bound_effective
                row["decode_per_core"] = decode["value"]
                row["model_rate"] = model["value"]
            if usual is not None:
                row["vs_usual"] = row["value"] / usual["value"]
        self.derive_real()
        engine = next((r for r in self.rows if r.get("engine") == "painter-match"), None)
        pandas = next((r for r in self.rows if r.get("engine") == "pandas"), None)
        if engine and pandas:
            engine["vs_pandas"] = pandas["median_s"] / engine["median_s"]

    def run(self) -> list[dict[str, Any]]:
        o, s = self.o, self.s
        stages = set(o.stages)
        needs_model = stages & {"model", "embed", "usual"}
        prepared = self.prepare(o.backbone, o.input_size, given=o.model is not None) if needs_model else None
        if "decode" in stages:
            self.decode(prepared["input_size"] if prepared else o.input_size)
        if "model" in stages:
            self.ceiling()
            if prepared:
                self.model(prepared)
            if s.lite and o.model is None and _lite_available():
                lite = self.prepare(LITE_BACKBONE, LITE_INPUT, given=False)
                if lite:
                    self.model(lite)
        if prepared and "embed" in stages:
            self.embed(prepared)
        if prepared and "usual" in stages:
            self.usual(prepared)
        if "real" in stages:
            self.real()
        if "finder" in stages:
            self.finder()
        if "score" in stages:
            self.score(prepared["embedding_dim"] if prepared else o.embedding_dim)
        self.derive()
        return self.rows


def run_suite(options: Options) -> tuple[list[dict[str, Any]], list[str]]:
    """Run the chosen stages; the result rows and the errors of comparisons that failed."""
    suite = _Suite(options)
    rows = suite.run()
    return rows, suite.errors


def parse_stages(values: Sequence[str]) -> tuple[str, ...]:
    """``["decode,model", "score"]`` -> ("decode", "model", "score") in the suite's order."""
    wanted = {v.strip() for value in values for v in value.split(",") if v.strip()}
    unknown = sorted(wanted - set(STAGES))
    if unknown:
        raise ValueError(f"unknown stage(s) {', '.join(unknown)}; choose from {', '.join(STAGES)}")
    return tuple(s for s in STAGES if s in wanted)
