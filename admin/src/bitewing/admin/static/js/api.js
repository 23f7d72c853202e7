// The only module that talks HTTP: JSON in and out, problem+json errors, the CSRF header on writes, and
// multipart uploads with progress (XMLHttpRequest, the one browser API that reports upload progress).

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

  put(path, body) {
    return this.request("PUT", path, { body });
  }

  delete(path) {
    return this.request("DELETE", path);
  }

  /**
   * POST `formData` as multipart/form-data. `onProgress(sent, total)` follows the upload; `signal` (an
   * AbortSignal) cancels it. Resolves to {data, pagination} or rejects with an ApiError (status 0 when the
   * server could not be reached, or the upload was cancelled: then `error.aborted` is true).
   */
  upload(path, formData, { onProgress, signal } = {}) {
    return new Promise((resolve, reject) => {
      const xhr = new XMLHttpRequest();
      xhr.open("POST", this.url(path));
      xhr.withCredentials = true;
      xhr.setRequestHeader("Accept", "application/json");
      if (this.csrfToken) xhr.setRequestHeader("X-CSRF-Token", this.csrfToken);
      if (onProgress) {
        xhr.upload.addEventListener("progress", (event) => {
          if (event.lengthComputable) onProgress(event.loaded, event.total);
        });
      }
      const unreachable = () =>
        reject(new ApiError(0, { detail: "The upload did not reach the server. Check your connection and try again." }));
      xhr.addEventListener("error", unreachable);
      xhr.addEventListener("timeout", unreachable);
      xhr.addEventListener("abort", () => {
        const error = new ApiError(0, { detail: "The upload was cancelled." });
        error.aborted = true;
        reject(error);
      });
      xhr.addEventListener("load", () => {
        let data = null;
        try {
          data = xhr.responseText ? JSON.parse(xhr.responseText) : null;
        } catch {
          data = null;
        }
        if (xhr.status < 200 || xhr.status >= 300) {
          const error = new ApiError(xhr.status, data);
          if (xhr.status === 401 && this.onUnauthenticated) this.onUnauthenticated(error);
          reject(error);
          return;
        }
        resolve({ data, pagination: null });
      });
      if (signal) signal.addEventListener("abort", () => xhr.abort(), { once: true });
      xhr.send(formData);
      if (signal && signal.aborted) xhr.abort();
    });
  }
}
