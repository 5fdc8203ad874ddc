// The walletauth HTTP API, same origin by default (or the <meta name="walletauth-api">
// base). Errors arrive as RFC 9457 problem+json with a stable `code`; they are thrown
// as ApiError so that the page can show the message for that code.

const API_BASE = document.querySelector('meta[name="walletauth-api"]')?.content || "";

/** An address of the API (e.g. a link /policy answers) as the page must open it. */
export function apiUrl(path) {
  return API_BASE + path;
}

export class ApiError extends Error {
  constructor(code, detail, status, retryAfter) {
    super(detail || code);
    this.code = code;
    this.detail = detail;
    this.status = status;
    this.retryAfter = retryAfter;
  }
}

/** Call `path`; answer the parsed JSON, the text (`as: "text"`), or null for 204. */
export async function api(path, { method = "GET", body, as = "json" } = {}) {
  let response;
  try {
    response = await fetch(API_BASE + path, {
      method,
      credentials: API_BASE ? "include" : "same-origin",
      headers: body === undefined ? {} : { "Content-Type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (error) {
    throw new ApiError("network_error", String(error), 0);
  }
  if (!response.ok) throw await problemOf(response);
  if (response.status === 204) return null;
  try {
    return as === "text" ? await response.text() : await response.json();
  } catch (error) {
    throw new ApiError("unexpected_response", String(error), response.status);
  }
}

async function problemOf(response) {
  const retryAfter = Number(response.headers.get("Retry-After")) || undefined;
  try {
    const problem = await response.json();
    if (problem && typeof problem.code === "string") {
      return new ApiError(problem.code, problem.detail, response.status, retryAfter);
    }
  } catch {
    // Not problem+json (a proxy's error page): described by the status below.
  }
  const code = response.status === 429 ? "rate_limited" : response.status >= 500
    ? "service_unavailable" : "unexpected_response";
  return new ApiError(code, `HTTP ${response.status}`, response.status, retryAfter);
}
