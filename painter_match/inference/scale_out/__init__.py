"""Embedding beyond one machine.

- `painter_match.inference.scale_out.shards`: ``embed --shard K/N`` (which paintings a shard
  holds) and ``merge`` (the shards' files into one embeddings file).
- `painter_match.inference.scale_out.ray_engine`: ``embed --engine ray``, a Ray Data pipeline of
  ONNX Runtime actors on a local or existing Ray cluster.
"""
