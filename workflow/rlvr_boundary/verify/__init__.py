"""Verifiers: judge sampled responses against a benchmark's ground truth."""
