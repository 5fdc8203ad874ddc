"""Where nonces, sessions and rate-limit counters live: in process or in Redis."""
