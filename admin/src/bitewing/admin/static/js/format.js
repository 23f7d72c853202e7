// Turning API values into words and numbers people read. No DOM, no HTTP.

export const IMAGE_TYPES = {
  bitewing: "Bitewing",
  periapical: "Periapical",
  intraoral: "Intraoral",
  panoramic: "Panoramic",
  cephalometric: "Cephalometric",
  cbct: "CBCT",
  photo: "Photo",
  other: "Other",
};

const NOUNS = { cbct: "scan", photo: "", other: "image" };

const LATERALITY = { L: "Left", R: "Right", B: "Both", U: "Unpaired" };

const TRANSFER_SYNTAXES = {
  "1.2.840.10008.1.2": "Implicit VR Little Endian",
  "1.2.840.10008.1.2.1": "Explicit VR Little Endian",
  "1.2.840.10008.1.2.2": "Explicit VR Big Endian",
  "1.2.840.10008.1.2.5": "RLE Lossless",
  "1.2.840.10008.1.2.4.50": "JPEG Baseline",
  "1.2.840.10008.1.2.4.57": "JPEG Lossless",
  "1.2.840.10008.1.2.4.70": "JPEG Lossless SV1",
  "1.2.840.10008.1.2.4.80": "JPEG-LS Lossless",
  "1.2.840.10008.1.2.4.90": "JPEG 2000 Lossless",
  "1.2.840.10008.1.2.4.91": "JPEG 2000",
  "1.2.840.10008.1.2.4.201": "HTJ2K Lossless",
  "1.2.840.10008.1.2.4.202": "HTJ2K Lossless RPCL",
  "1.2.840.10008.1.2.4.203": "HTJ2K",
};

/** "Panoramic X-ray", "CBCT scan", "Photo". */
export function imageKind(type) {
  const name = IMAGE_TYPES[type] || "Image";
  const noun = type in NOUNS ? NOUNS[type] : "X-ray";
  return noun ? `${name} ${noun}` : name;
}

/** The calendar date of an ISO timestamp in the viewer's time zone, as YYYY-MM-DD. */
export function isoDate(value) {
  if (!value) return "";
  const date = new Date(value);
  if (Number.isNaN(date.getTime())) return "";
  const pad = (n) => String(n).padStart(2, "0");
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}`;
}

/** Alternative text of an image: "Panoramic X-ray, 2024-05-17". */
export function altText(image) {
  return `${imageKind(image.image_type)}, ${isoDate(image.acquired_at) || "date unknown"}`;
}

/** A date-only value ("1986-03-14") as "Mar 14, 1986" in the reader's locale. */
export function formatDay(value) {
  if (!value) return "";
  const [year, month, day] = value.split("-").map(Number);
  return new Date(year, month - 1, day).toLocaleDateString(undefined, {
    year: "numeric",
    month: "short",
    day: "numeric",
  });
}

/** A timestamp as "May 17, 2024, 2:30 PM" in the reader's locale and time zone. */
export function formatDateTime(value) {
  if (!value) return "";
  const date = new Date(value);
  if (Number.isNaN(date.getTime())) return "";
  return date.toLocaleString(undefined, {
    year: "numeric",
    month: "short",
    day: "numeric",
    hour: "numeric",
    minute: "2-digit",
  });
}

/** A timestamp's date only, "May 17, 2024". */
export function formatDate(value) {
  if (!value) return "";
  const date = new Date(value);
  if (Number.isNaN(date.getTime())) return "";
  return date.toLocaleDateString(undefined, { year: "numeric", month: "short", day: "numeric" });
}

/** 4421442 → "4.4 MB" (decimal units, as file managers show them). */
export function formatBytes(bytes) {
  if (bytes === null || bytes === undefined) return "";
  if (bytes < 1000) return `${bytes} B`;
  const units = ["kB", "MB", "GB", "TB"];
  let value = bytes;
  let unit = -1;
  do {
    value /= 1000;
    unit += 1;
  } while (value >= 1000 && unit < units.length - 1);
  return `${value.toLocaleString(undefined, { maximumFractionDigits: value < 10 ? 1 : 0 })} ${units[unit]}`;
}

/** How many times smaller `compressed` is than `original`: "2.5 : 1". */
export function ratio(original, compressed) {
  if (!original || !compressed) return "";
  const value = original / compressed;
  return `${value.toLocaleString(undefined, { maximumFractionDigits: value < 10 ? 1 : 0 })} : 1`;
}

export function laterality(code) {
  return code ? LATERALITY[code] || code : "";
}

export function transferSyntax(uid) {
  return TRANSFER_SYNTAXES[uid] || uid || "";
}

/** A DICOM Person Name "Family^Given^Middle" as "Family, Given Middle". */
export function personName(value) {
  if (!value) return "";
  const [family = "", given = "", middle = "", prefix = "", suffix = ""] = value.split("=")[0].split("^");
  const rest = [prefix, given, middle, suffix].filter(Boolean).join(" ");
  return [family, rest].filter(Boolean).join(", ");
}

export function plural(count, one, many = `${one}s`) {
  return `${count} ${count === 1 ? one : many}`;
}
