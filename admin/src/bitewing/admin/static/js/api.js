// The only module that talks HTTP: JSON in and out, problem+json errors, the CSRF header on writes.

const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);

/** An error answer of the API (RFC 9457 problem details). */
export class ApiError extends Error {
  constructor(status, body) {
    const detail = (body && (body.detail || body.title)) || `The server answered ${status}.`;
    super(detail);
    this.name = "ApiError";
    this.status = status;
    this.title = (body && body.title) || "";
    this.detail = detail;
    this.errors = (body && typeof body.errors === "object" && body.errors) || {};
  }
}

export class Api {
  constructor(prefix) {
    this.prefix = prefix;
    this.csrfToken = null;
    /** Called with the error when a request comes back 401 (the session ended). */
    this.onUnauthenticated = null;
  }

  url(path, query) {
    const url = new URL(this.prefix + path, window.location.origin);
    for (const [name, value] of Object.entries(query || {})) {
      if (value !== undefined && value !== null && value !== "") url.searchParams.set(name, value);
    }
    return url;
  }

  /** Send a request; resolves to {data, pagination} or rejects with an ApiError. */
  async request(method, path, { query, body, quietUnauthenticated = false } = {}) {
    const headers = { Accept: "application/json" };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    if (!SAFE_METHODS.has(method) && this.csrfToken) headers["X-CSRF-Token"] = this.csrfToken;
    let response;
    try {
      response = await fetch(this.url(path, query), {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        credentials: "same-origin",
        cache: "no-store",
      });
    } catch {
      throw new ApiError(0, { detail: "The server cannot be reached. Check your connection and try again." });
    }
    const text = await response.text();
    let data = null;
    if (text) {
      try {
        data = JSON.parse(text);
      } catch {
        data = null;
      }
    }
    if (!response.ok) {
      const error = new ApiError(response.status, data);
      if (response.status === 401 && !quietUnauthenticated && this.onUnauthenticated) {
        this.onUnauthenticated(error);
      }
      throw error;
    }
    let pagination = null;
    const header = response.headers.get("X-Pagination");
    if (header) {
      try {
        pagination = JSON.parse(header);
      } catch {
        pagination = null;
      }
    }
    return { data, pagination };
  }

  get(path, query, options = {}) {
    return this.request("GET", path, { ...options, query });
  }

  post(path, body, options = {}) {
    return this.request("POST", path, { ...options, body });
  }

  patch(path, body) {
    return this.request("PATCH", path, { body });
  }

  delete(path) {
    return this.request("DELETE", path);
  }
}
