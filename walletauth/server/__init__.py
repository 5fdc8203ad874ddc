"""The HTTP service: the FastAPI app factory and its runtime (``app``, ``runtime``), the
routes (``routes/``), the sign-in path (``signin/``), shared HTTP plumbing (``web/``),
configuration (``config/``) and short-lived state (``state/``). Every store call goes through
one gateway and its one threading rule (``store_gateway``)."""
