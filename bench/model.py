"""Model only: images per second of one ONNX variant on one provider at several batch sizes, and the ceiling.

The session is opened the way the CLI opens it (`painter_match.inference.model.open_model`: full graph
optimisation, ``threads`` intra-op threads) and fed random uint8 pixels already in memory, so the
figure is the model alone. Achieved GFLOP/s (the graph's Conv/Gemm/MatMul work times the rate) is
reported beside the machine's ceiling, measured in the same run by `ceiling`: a large float32
matrix product, and an int8 one (``MatMulInteger``, u8 x s8, the kernels VNNI speeds up), run by
the same onnxruntime on the same threads. On CUDA the pixels can be bound to the device first
(``io_binding``), which leaves the host-to-device copy out.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from bench.runner import peak_rss_mb, timed

PROVIDER_NAMES = {
    "cpu": "CPUExecutionProvider",
    "cuda": "CUDAExecutionProvider",
    "tensorrt": "TensorrtExecutionProvider",
}


def measure(
    path: str,
    variant: str,
    model_name: str,
    provider: str,
    batch_sizes: list[int],
    threads: int,
    flops_per_image: float | None,
    warmup: int,
    repeats: int,
    min_seconds: float,
    io_binding: bool = False,
) -> list[dict[str, Any]]:
    """One row per batch size: images/s and GFLOP/s of ``path`` on ``provider``."""
    from painter_match.inference.model import INPUT_NAME, OUTPUT_NAME, open_model

    model = open_model(path, provider=provider, threads=threads)
    size = model.info.input_size
    rng = np.random.default_rng(0)
    rows = []
    for batch in batch_sizes:
        pixels = rng.integers(0, 256, (batch, size, size, 3), dtype=np.uint8)
        if io_binding and provider in ("cuda", "tensorrt"):
            import onnxruntime as ort

            binding = model.session.io_binding()
            binding.bind_ortvalue_input(INPUT_NAME, ort.OrtValue.ortvalue_from_numpy(pixels, "cuda", 0))
            binding.bind_output(OUTPUT_NAME, "cuda")

            def call(binding: Any = binding, pixels: np.ndarray = pixels) -> None:
                model.session.run_with_iobinding(binding)

        else:

            def call(binding: Any = None, pixels: np.ndarray = pixels) -> None:
                model.run(pixels)

        timing = timed(call, warmup=warmup, repeats=repeats, min_seconds=min_seconds)
        rate = batch / timing["median_s"]
        rows.append(
            {
                "stage": "model",
                "name": f"{model_name} {variant} {provider} b{batch}" + (" iobind" if io_binding else ""),
                "model": model_name,
                "variant": variant,
                "provider": provider,
                "provider_used": model.provider,
                "batch_size": batch,
                "threads": threads,
                "value": rate,
                "unit": "images/s",
                # Without onnx (an inference-only install) the FLOPs are not counted.
                **({"gflops": flops_per_image * rate / 1e9} if flops_per_image is not None else {}),
                "flops_per_image": flops_per_image,
                "io_binding": io_binding,
                **timing,
                "peak_rss_mb": round(peak_rss_mb(), 1),
            }
        )
    return rows


def _matmul_model(n: int, integer: bool) -> bytes:
    import onnx
    from onnx import TensorProto, helper

    if integer:
        inputs = [
            helper.make_tensor_value_info("a", TensorProto.UINT8, [n, n]),
            helper.make_tensor_value_info("b", TensorProto.INT8, [n, n]),
        ]
        node = helper.make_node("MatMulInteger", ["a", "b"], ["c"])
        output = helper.make_tensor_value_info("c", TensorProto.INT32, [n, n])
    else:
        inputs = [
            helper.make_tensor_value_info("a", TensorProto.FLOAT, [n, n]),
            helper.make_tensor_value_info("b", TensorProto.FLOAT, [n, n]),
        ]
        node = helper.make_node("MatMul", ["a", "b"], ["c"])
        output = helper.make_tensor_value_info("c", TensorProto.FLOAT, [n, n])
    graph = helper.make_graph([node], "ceiling", inputs, [output])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    model.ir_version = 9
    onnx.checker.check_model(model)
    return model.SerializeToString()


def ceiling(threads: int, n: int, warmup: int, repeats: int, provider: str = "cpu") -> list[dict[str, Any]]:
    """The machine's arithmetic ceiling on ``threads`` threads: an n x n x n product, float32 and int8."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.log_severity_level = 3
    providers = [PROVIDER_NAMES[provider]] + (["CPUExecutionProvider"] if provider != "cpu" else [])
    rng = np.random.default_rng(0)
    rows = []
    for integer in (False, True):
        session = ort.InferenceSession(_matmul_model(n, integer), sess_options=options, providers=providers)
        feeds: dict[str, np.ndarray]
        if integer:
            feeds = {
                "a": rng.integers(0, 256, (n, n), dtype=np.uint8),
                "b": rng.integers(-128, 128, (n, n), dtype=np.int8),
            }
        else:
            feeds = {
                "a": rng.standard_normal((n, n), dtype=np.float32),
                "b": rng.standard_normal((n, n), dtype=np.float32),
            }

        def call(session: Any = session, feeds: dict[str, np.ndarray] = feeds) -> None:
            session.run(None, feeds)

        timing = timed(call, warmup=warmup, repeats=repeats)
        rows.append(
            {
                "stage": "model",
                "name": f"ceiling {'int8' if integer else 'fp32'} matmul {n}^3 {provider}",
                "variant": "int8" if integer else "fp32",
                "provider": provider,
                "threads": threads,
                "value": 2.0 * n**3 / timing["median_s"] / 1e9,
                "unit": "GOP/s" if integer else "GFLOP/s",
                "ceiling": True,
                **timing,
            }
        )
    return rows
