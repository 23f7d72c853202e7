// Image URLs from the API expire after a few minutes: when one fails to load, ask the API for a fresh
// link once and try again. Shared by the thumbnail grid, the inbox and the viewer.

/** The named rendition of an image ("thumbnail", "preview", "full"), or undefined. */
export function rendition(image, name) {
  return (image && image.renditions ? image.renditions : []).find((r) => r.name === name);
}

/**
 * Point `img` at `url`. If it fails to load (typically an expired link answering 404), `freshUrl()` is
 * awaited once for a new URL and the image retried; if that fails too, `onFail()` is called.
 * Returns a promise that settles to true once the image is loaded, false when it gave up or another
 * `showImage` on the same element took over meanwhile (that one's picture is the one shown).
 */
export function showImage(img, url, { freshUrl, onFail } = {}) {
  const token = Symbol("load");
  img.loadToken = token;
  return new Promise((resolve) => {
    let retried = false;
    const done = (ok) => {
      img.removeEventListener("load", loaded);
      img.removeEventListener("error", failed);
      if (!ok && img.loadToken === token && onFail) onFail();
      resolve(ok);
    };
    // Another `showImage` on the same element since: its load event is not this one's.
    const loaded = () => done(img.loadToken === token);
    const failed = async () => {
      if (img.loadToken !== token) return done(false);
      if (retried || !freshUrl) return done(false);
      retried = true;
      let next = null;
      try {
        next = await freshUrl();
      } catch {
        next = null;
      }
      if (!next || img.loadToken !== token) return done(false);
      img.src = next;
    };
    img.addEventListener("load", loaded);
    img.addEventListener("error", failed);
    img.src = url;
  });
}

/** Load `url` off-screen (so the visible image stays until the new one is ready), with the same retry. */
export async function preload(url, freshUrl) {
  const probe = new Image();
  const ok = await showImage(probe, url, { freshUrl });
  if (!ok) return null;
  try {
    await probe.decode();
  } catch {
    // Decoding ahead is an optimisation only.
  }
  return probe.currentSrc || probe.src;
}
