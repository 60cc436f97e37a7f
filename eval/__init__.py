"""Evaluation data and entry points; the harness code lives in rag.evaluation."""
