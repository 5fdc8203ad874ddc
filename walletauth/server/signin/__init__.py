"""The sign-in path: nonce and verify answered as plain ASGI ahead of FastAPI, the login
logic behind them (refresh, sign-out), what a sign-in writes, and the tokens and cookie
it hands out."""
