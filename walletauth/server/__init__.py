"""The HTTP service: the FastAPI app factory and its runtime (``app``, ``runtime``), the
routes (``routes/``), the sign-in path (``signin/``), shared HTTP plumbing (``web/``),
configuration (``config/``) and short-lived state (``state/``)."""
