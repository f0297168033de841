"""The Ray engine: ``embed`` as a Ray Data pipeline, for collections one machine cannot embed in time.

The same decode -> views -> model -> normalise pipeline as the local engine, on a Ray cluster:
`ray.data.from_items` of the images' relative paths, then ``map_batches`` on a pool of actors
(`_Embedder`), each of which opens ONE onnxruntime session when it starts and reuses it for every
batch, with the project's own decoding and views (`OnnxEncoder.pixels`) and view averaging
(`OnnxEncoder.embed_pixels`), so the vectors are the local engine's. Actors ask for a GPU each
(``num_gpus_per_actor``) and then run the CUDA provider. The images and the model must be at the
same path on every node (a shared file system). Ray is an optional extra: without it the engine
says how to install it. `RayEncoder` plugs the engine into `painter_match.inference.folder.embed_folder`,
so an ``--engine ray`` run writes the same embeddings file, resumably, as a local one.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import secrets
import signal
import socket
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from painter_match.data.images import DEFAULT_MAX_PIXELS
from painter_match.data.views import Views
from painter_match.errors import ImageLoadError, PainterMatchError
from painter_match.inference.encoder import DEFAULT_BATCH_SIZE, EncodedBatch, Failure, OnnxEncoder
from painter_match.inference.model import LoadedModel, open_model

INSTALL_LINE = 'pip install "painter-match[ray]"'
# How long joining a cluster may take to answer on its port: Ray itself waits for ever on an
# address nobody listens at (`--address 127.0.0.1:1` was still waiting after 410 s).
CONNECT_TIMEOUT_S = 10.0
_RAY_SCHEME = "ray://"
_ADDRESS = ("address=", "--address ")  # how messages name the option: Python, command line
_DEFAULT_GCS_PORT = 6379
_DEFAULT_CLIENT_PORT = 10001


def parse_address(address: str) -> tuple[str, int] | None:
    """``HOST:PORT`` or ``ray://HOST[:PORT]`` as ``(host, port)``; None for ``auto`` (Ray finds it).

    Raises:
        PainterMatchError: naming the value and the forms allowed.
    """
    text = address.strip()
    if text == "auto":
        return None
    rest = text[len(_RAY_SCHEME) :] if text.startswith(_RAY_SCHEME) else text
    default_port = _DEFAULT_CLIENT_PORT if text.startswith(_RAY_SCHEME) else _DEFAULT_GCS_PORT
    host, port_text = rest, ""
    if rest.startswith("["):  # [IPv6]:PORT
        host, _, tail = rest[1:].partition("]")
        port_text = tail[1:] if tail.startswith(":") else tail
    elif rest.count(":") == 1:
        host, port_text = rest.split(":")
    problem = None
    if not host or any(c.isspace() or c in "/@?#" for c in host):
        problem = "no host name"
    elif port_text and not (port_text.isdigit() and 0 < int(port_text) < 65536):
        problem = f"port {port_text!r} is not a number from 1 to 65535"
    elif not port_text and not text.startswith(_RAY_SCHEME):
        problem = "no port"
    if problem is not None:
        raise PainterMatchError.naming(
            f"{{option}}{address!r}: {problem}; give HOST:PORT of the cluster's head (e.g. 10.0.0.5:6379), "
            "ray://HOST:10001, or auto inside a cluster job",
            option=_ADDRESS,
        )
    return host, int(port_text) if port_text else default_port


def check_address(address: str, timeout: float = CONNECT_TIMEOUT_S) -> None:
    """Refuse a cluster address that is malformed, names no host, or has nobody listening on its
    port within ``timeout`` seconds, before Ray is asked to join it.

    Raises:
        PainterMatchError: one line naming the address and the cause.
    """
    parsed = parse_address(address)
    if parsed is None:
        return
    host, port = parsed
    try:
        ipaddress.ip_address(host)
    except ValueError:
        try:
            socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (socket.gaierror, UnicodeError) as error:
            raise PainterMatchError.naming(
                f"{{option}}{address}: the host {host!r} cannot be found ({error.args[-1]}); "
                "give the name or IP address of the cluster's head node",
                option=_ADDRESS,
            ) from None
    try:
        with socket.create_connection((host, port), timeout=timeout):
            pass
    except OSError as error:
        cause = (
            f"no answer within {timeout:g} s"
            if isinstance(error, TimeoutError)
            else (error.strerror or str(error))
        )
        raise PainterMatchError.naming(
            f"{{option}}{address}: cannot reach a Ray cluster there ({cause}); is "
            "`ray start --head` running on that host, and is the port open?",
            option=_ADDRESS,
        ) from None


@contextmanager
def _quiet_local_ray() -> Iterator[None]:
    """Start a local Ray without its warnings and without writing to ``~/.ray``.

    Ray turns token authentication on for a new local cluster, says so in a warning, and saves a
    new token to ``~/.ray/auth_token``. Here the mode and a fresh token are given through the
    environment (``RAY_AUTH_MODE``, ``RAY_AUTH_TOKEN``) for this run only: the cluster is still
    protected, nothing is said and nothing is written outside Ray's temporary folder. A user who
    sets either variable keeps their own setting.
    """
    if any(name in os.environ for name in ("RAY_AUTH_MODE", "RAY_AUTH_TOKEN", "RAY_AUTH_TOKEN_PATH")):
        yield
        return
    os.environ["RAY_AUTH_MODE"] = "token"
    os.environ["RAY_AUTH_TOKEN"] = secrets.token_hex(32)  # as Ray makes its own: 256 random bits
    _reload_ray_auth()
    try:
        yield
    finally:
        os.environ.pop("RAY_AUTH_MODE", None)
        os.environ.pop("RAY_AUTH_TOKEN", None)
        _reload_ray_auth()


def _reload_ray_auth() -> None:
    """Make Ray's core read the authentication settings again (it reads them once, at import).

    What Ray's own ``_enable_token_auth`` does; Rays without token authentication (before 2.52)
    lack these and need nothing.
    """
    try:
        from ray._raylet import AuthenticationTokenLoader, Config  # type: ignore[attr-defined]
    except ImportError:
        return
    Config.initialize("")
    AuthenticationTokenLoader.instance().reset_cache()


def _init_ray(ray: Any, address: str | None, num_cpus: int | None) -> None:
    """``ray.init`` for the run, with Ray's own SIGTERM handler undone.

    Ray's driver installs a SIGTERM handler of its own that exits at once (status 15, with a C
    stack dump); the one in place before (``sigterm_as_interrupt``: SIGTERM becomes Ctrl-C, so the
    run saves its progress and says so) is put back, so SIGTERM does the same in every engine.

    Raises:
        PainterMatchError: Ray refusing to start or to join, in one line.
    """
    on_main_thread = threading.current_thread() is threading.main_thread()
    handler = signal.getsignal(signal.SIGTERM) if on_main_thread else None
    options: dict[str, Any] = {
        "include_dashboard": False,
        "log_to_driver": False,
        "logging_level": logging.WARNING,  # not "Started a local Ray instance" on every run
        "configure_logging": True,
    }
    try:
        if address is not None:
            ray.init(address=address, **options)
        else:
            ray.init(num_cpus=num_cpus, **options)
    except (ConnectionError, RuntimeError, ValueError, TimeoutError) as error:
        cause = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        where = f"join the Ray cluster at {address}" if address is not None else "start a local Ray"
        raise PainterMatchError(f"cannot {where} ({cause[:300]})") from None
    finally:
        if on_main_thread and handler is not None:
            signal.signal(signal.SIGTERM, handler)


def import_ray() -> Any:
    """The ``ray`` module (with Ray Data), or a one-line error that says how to install it.

    Raises:
        PainterMatchError: Ray or Ray Data is not installed.
    """
    try:
        import ray
        import ray.data  # noqa: F401  (Ray without its data extra lacks it)
    except ImportError as err:
        raise PainterMatchError(
            f"the Ray engine needs Ray Data, which is not installed ({err}); install it with: {INSTALL_LINE}"
        ) from None
    return ray


class _Embedder:
    """A Ray actor: one onnxruntime session for its whole life, the project's decoding and views."""

    def __init__(
        self,
        model_path: str,
        root: str,
        views: Views,
        max_pixels: int,
        provider: str,
        threads: int | None,
    ) -> None:
        model = open_model(model_path, provider=provider, threads=threads)
        self.encoder = OnnxEncoder(model, views=views, workers=1, max_pixels=max_pixels)
        self.root = Path(root) if root else None

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        names = [str(p) for p in batch["path"].tolist()]
        pixels: list[np.ndarray] = []
        good: list[int] = []
        causes = [""] * len(names)
        for row, name in enumerate(names):
            try:
                pixels.append(self.encoder.pixels(self.root / name if self.root else name))
            except ImageLoadError as err:
                causes[row] = err.cause
            else:
                good.append(row)
        vectors = np.full((len(names), self.encoder.dim), np.nan, dtype=np.float32)
        if pixels:
            vectors[good] = self.encoder.embed_pixels(pixels)
        return {
            "index": np.asarray(batch["index"], dtype=np.int64),
            "vector": vectors,
            "cause": np.array(causes),
        }


def _cluster_slots(ray: Any, num_gpus_per_actor: float) -> int:
    """Actors the cluster can hold at once: one per CPU, or per ``num_gpus_per_actor`` GPUs."""
    resources = ray.cluster_resources()
    if num_gpus_per_actor > 0:
        return max(1, int(resources.get("GPU", 0) // num_gpus_per_actor))
    return max(1, int(resources.get("CPU", 1)))


class RayEncoder(OnnxEncoder):
    """An `OnnxEncoder` whose `iter_encode` runs on a Ray cluster (see the module docstring).

    ``model`` is opened here too, for its contract (the embeddings file records it); the actors
    open their own sessions of the same file.

    Args:
        model: the open model (its ``path`` is what the actors open).
        views: the view policy; None means the model's default.
        batch_size: images per actor call.
        address: an existing cluster to join (``ray://...`` or ``HOST:PORT``, or ``auto``); None
            starts a local Ray unless this process already has one.
        num_cpus: CPUs of a local Ray that this starts (None: all of them).
        num_gpus_per_actor: GPUs each actor asks for; above 0 the actors run CUDA.
        concurrency: actors in the pool; None means as many as the cluster holds.
        max_pixels: the largest image to decode (as the local engine).
    """

    def __init__(
        self,
        model: LoadedModel,
        *,
        views: Views | None = None,
        batch_size: int = DEFAULT_BATCH_SIZE,
        address: str | None = None,
        num_cpus: int | None = None,
        num_gpus_per_actor: float = 0,
        concurrency: int | None = None,
        max_pixels: int = DEFAULT_MAX_PIXELS,
    ) -> None:
        super().__init__(model, views=views, batch_size=batch_size, workers=1, max_pixels=max_pixels)
        if num_gpus_per_actor < 0:
            raise ValueError(f"num_gpus_per_actor must be 0 or more, got {num_gpus_per_actor}")
        if concurrency is not None and concurrency < 1:
            raise ValueError(f"concurrency must be at least 1, got {concurrency}")
        self.ray = import_ray()
        if address is not None:
            check_address(address)  # before any work, and never left to Ray, which would wait for ever
        self.address = address
        self.num_cpus = num_cpus
        self.num_gpus_per_actor = num_gpus_per_actor
        self.concurrency = concurrency

    def iter_encode(self, paths: Iterable[str | Path]) -> Iterator[EncodedBatch]:
        """Embed files on the cluster, batch by batch, in input order."""
        # Absolute, since the actors' working folder is not this process's.
        items = [str(Path(p).absolute()) for p in paths]
        yield from self._run(items, root="")

    def _run(self, names: Sequence[str], root: str) -> Iterator[EncodedBatch]:
        ray = self.ray
        started_here = False
        quiet = _quiet_local_ray() if self.address is None else _nothing()
        with quiet:
            if not ray.is_initialized():
                _init_ray(ray, self.address, self.num_cpus)
                started_here = True
            yield from self._map(names, root, started_here)

    def _map(self, names: Sequence[str], root: str, started_here: bool) -> Iterator[EncodedBatch]:
        ray = self.ray
        try:
            if not names:
                return
            context = ray.data.DataContext.get_current()
            context.execution_options.preserve_order = True  # batches come back in input order
            if hasattr(context, "enable_progress_bars"):
                context.enable_progress_bars = False  # embed draws its own
            gpus = self.num_gpus_per_actor
            pool = self.concurrency or _cluster_slots(ray, gpus)
            dataset = ray.data.from_items([{"index": i, "path": name} for i, name in enumerate(names)])
            embedded = dataset.map_batches(
                _Embedder,
                fn_constructor_kwargs={
                    "model_path": str(Path(self.model.path).resolve()),
                    "root": root,
                    "views": self.views,
                    "max_pixels": self.max_pixels,
                    "provider": "cuda" if gpus > 0 else "cpu",
                    "threads": None if gpus > 0 else 1,
                },
                batch_size=self.batch_size,
                batch_format="numpy",
                # `compute`, not `concurrency` (deprecated, with a warning on every run).
                compute=ray.data.ActorPoolStrategy(size=pool),
                num_cpus=1,
                num_gpus=gpus,
            )
            with _ray_data_quiet():
                for batch in embedded.iter_batches(batch_size=None, batch_format="numpy"):
                    yield _encoded(batch, names)
        finally:
            if started_here:
                ray.shutdown()


@contextmanager
def _ray_data_quiet() -> Iterator[None]:
    """Ray Data's INFO lines (where its logs are, the plan, "execution finished") and its warning
    that progress bars are off (``embed`` draws its own) are not for the user: only errors pass."""
    logger = logging.getLogger("ray.data")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


@contextmanager
def _nothing() -> Iterator[None]:
    yield


def _encoded(batch: dict[str, np.ndarray], names: Sequence[str]) -> EncodedBatch:
    """One Ray output batch as the local engine's `EncodedBatch`."""
    index = np.asarray(batch["index"], dtype=np.int64)
    vectors = np.asarray(batch["vector"], dtype=np.float32).reshape(len(index), -1)
    causes = [str(c) for c in batch["cause"].tolist()]
    ok = np.asarray([not c for c in causes], dtype=bool)
    failures = [Failure(int(i), names[int(i)], cause) for i, cause in zip(index.tolist(), causes) if cause]
    return EncodedBatch(
        start=int(index.min()) if len(index) else 0,
        stop=int(index.max()) + 1 if len(index) else 0,
        indices=index[ok],
        vectors=vectors[ok],
        failures=failures,
    )


def embed_with_ray(
    model_path: str | Path,
    image_paths: Sequence[str],
    root: str | Path,
    *,
    views: Views | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    address: str | None = None,
    num_cpus: int | None = None,
    num_gpus_per_actor: float = 0,
    concurrency: int | None = None,
    max_pixels: int = DEFAULT_MAX_PIXELS,
) -> tuple[list[str], np.ndarray, list[Failure]]:
    """Embed images on Ray: what the local engine gives, from a cluster.

    Args:
        model_path: the painter-match ``.onnx`` (at this path on every node).
        image_paths: the images, relative to ``root`` (POSIX).
        root: their folder (at this path on every node).
        views: the view policy; None means the model's default.
        batch_size: images per actor call.
        address: a cluster to join; None starts a local Ray unless one is running.
        num_cpus: CPUs of the local Ray this starts.
        num_gpus_per_actor: GPUs each actor asks for (then the actors run CUDA).
        concurrency: actors in the pool; None means as many as the cluster holds.
        max_pixels: the largest image to decode.

    Returns:
        The relative paths embedded (in input order), their float32 ``[N, D]`` unit vectors, and
        the images that could not be read (``index`` into ``image_paths``).

    Raises:
        PainterMatchError: Ray is not installed (the message has the pip line), or the model
            cannot be opened.
    """
    import_ray()
    model = open_model(model_path, provider="cpu", threads=1)
    encoder = RayEncoder(
        model,
        views=views,
        batch_size=batch_size,
        address=address,
        num_cpus=num_cpus,
        num_gpus_per_actor=num_gpus_per_actor,
        concurrency=concurrency,
        max_pixels=max_pixels,
    )
    names = list(image_paths)
    paths: list[str] = []
    vectors: list[np.ndarray] = []
    failures: list[Failure] = []
    for batch in encoder._run(names, root=str(Path(root).resolve())):
        paths.extend(names[i] for i in batch.indices.tolist())
        vectors.append(batch.vectors)
        failures.extend(batch.failures)
    dim = model.info.embedding_dim
    stacked = np.concatenate(vectors) if vectors else np.empty((0, dim), dtype=np.float32)
    return paths, stacked, failures
