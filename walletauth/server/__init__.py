"""The HTTP service: FastAPI app factory, routes, settings, tokens, nonces and rate limits."""
