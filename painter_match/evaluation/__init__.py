"""Evaluation: metrics, labelled pairs, baselines and reports."""
