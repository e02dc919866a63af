"""The OpenAI-compatible engine: vLLM and other OpenAI-compatible servers."""
