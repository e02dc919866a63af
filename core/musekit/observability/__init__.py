"""What operators see: Prometheus metrics and structured logs carrying the invocation id."""
