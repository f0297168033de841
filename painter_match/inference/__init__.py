"""Inference: the model contract, encoder, embeddings, similarity, calibration and pair scoring."""
