"""The reader: a trained model that reads a question with a passage and returns the
answer span (offsets into the original document) and a no-answer score.

``spans`` (pure: folding with an offset map, windows, span decoding) is importable
without torch; ``model`` and ``train`` need torch.
"""
