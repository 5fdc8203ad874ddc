-- The ceiling: a bare async FastAPI route on the same uvicorn setup.
function done(summary, latency, requests)
  io.write(string.format("RESULT requests=%d seconds=%.3f p99_ms=%.2f p50_ms=%.2f\n",
    summary.requests, summary.duration / 1e6, latency:percentile(99) / 1000,
    latency:percentile(50) / 1000))
end
