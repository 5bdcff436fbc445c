"""Our own YuE v1 inference engine: tokenizer, token layouts, prompts, LLaMA, weights, sampling, stages 1 and 2."""
