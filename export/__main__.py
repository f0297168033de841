"""``python -m export CHECKPOINT -o OUT.onnx [--int8 | --fp16]``: `painter_match.commands.export.main`."""

from __future__ import annotations

from painter_match.commands.export import main

if __name__ == "__main__":
    raise SystemExit(main())
