"""Running the inference server: vLLM on GPUs, the embedded engine elsewhere."""
