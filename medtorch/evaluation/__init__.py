"""Evaluation: metrics, epoch accumulation, plots."""
