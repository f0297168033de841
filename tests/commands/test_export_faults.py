"""The fault suite for `export`: an existing model and its own checkpoint refused, SIGTERM, and a
run outside the main thread.

Split by command from the first fault suite (see test_score_faults.py); the `work` fixture is in
tests/conftest.py.
"""

from __future__ import annotations

import signal
import threading
from pathlib import Path

import pytest
from fault_kit import REPO
from fault_kit import leftovers as _leftovers
from fault_kit import one_line as _one_line
from fault_kit import python as _python
from fault_kit import wait_for as _wait_for

# --- 1. an output is never lost --------------------------------------------------------------


def test_export_refuses_an_existing_model_and_its_own_checkpoint(
    work: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("torch", reason="export needs the [train] extra")
    from painter_match.commands.export import main as export_main

    checkpoint = work / "best.pt"
    checkpoint.write_bytes(b"a checkpoint")
    model = work / "model.onnx"
    model.write_bytes(b"the model in use")
    for argv, expected in (
        ([str(checkpoint), "-o", str(model)], "already exists; pass --force"),
        ([str(checkpoint), "-o", str(checkpoint), "--force"], "is the checkpoint"),
    ):
        assert export_main([*argv, "--quiet"]) == 1
        assert expected in _one_line(capsys.readouterr().err, "error: ")
    assert checkpoint.read_bytes() == b"a checkpoint" and model.read_bytes() == b"the model in use"
    assert _leftovers(work) == []


# --- 7, 8. signals, kill -9, and two runs at once ----------------------------------------------


# The command line of `python -m export` around an exporter that hangs; the package's torch-heavy
# modules are stood in for, since only the command's handling of SIGTERM is under test.
_SLOW_EXPORT = """
import sys, time, types
from pathlib import Path
def slow(*args, **kwargs):
    Path({marker!r}).touch()
    time.sleep(120)
package = types.ModuleType("painter_match.train.export")
package.__path__ = [{folder!r}]
package.export_model = slow
sys.modules["painter_match.train.export"] = package
graph = types.ModuleType("painter_match.train.export.graph")
graph.OPSET = 18
sys.modules["painter_match.train.export.graph"] = graph
from export.__main__ import main
sys.exit(main({argv!r}))
"""


def test_export_stopped_by_sigterm_says_so_and_leaves_the_model(work: Path) -> None:
    checkpoint, model, marker = work / "best.pt", work / "model.onnx", work / "exporting"
    checkpoint.write_bytes(b"a checkpoint")
    model.write_bytes(b"the model in use")
    argv = [str(checkpoint), "-o", str(model), "--force", "--quiet"]
    process = _python(
        _SLOW_EXPORT.format(
            marker=str(marker), folder=str(REPO / "painter_match" / "train" / "export"), argv=argv
        )
    )
    _wait_for(marker, process)
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 130
    assert _one_line(err, "interrupted; ") == f"interrupted; nothing was written to {model}"
    assert model.read_bytes() == b"the model in use" and checkpoint.read_bytes() == b"a checkpoint"


def test_export_runs_outside_the_main_thread(work: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("torch", reason="export needs the [train] extra")
    from painter_match.commands.export import main as export_main

    (work / "model.onnx").write_bytes(b"the model in use")
    codes: list[int] = []
    argv = [str(work / "best.pt"), "-o", str(work / "model.onnx"), "--quiet"]
    worker = threading.Thread(target=lambda: codes.append(export_main(argv)))
    worker.start()
    worker.join()
    assert codes == [1] and "already exists" in _one_line(capsys.readouterr().err, "error: ")
