"""A prelude for child processes that must run as on an inference-only install: torch cannot load."""

from __future__ import annotations

# Put first in a ``python -c`` program: any import of torch or torchvision then fails.
NO_TORCH = (
    "import importlib.abc, sys\n"
    "class NoTorch(importlib.abc.MetaPathFinder):\n"
    "    def find_spec(self, name, path=None, target=None):\n"
    "        if name.split('.')[0] in ('torch', 'torchvision'):\n"
    "            raise ImportError(f'{name} is blocked by this test')\n"
    "        return None\n"
    "sys.meta_path.insert(0, NoTorch())\n"
)
