"""HTTP plumbing shared by every route: middleware, error codes and problem responses,
request bodies, client IPs, rate limits, metrics and request-scoped dependencies."""
