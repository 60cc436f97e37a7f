"""Pure text functions: script folding, tokenizing, sentence splitting, chunking."""
