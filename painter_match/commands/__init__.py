"""The inference commands' handlers (embed, score, verify, similar): numpy, Pillow and onnxruntime only.

`painter_match.cli` builds the parser and imports one of these modules only when its command
runs. Each module's ``run(args) -> int`` does the command's work through the library and prints
the result; none of them imports torch.
"""
