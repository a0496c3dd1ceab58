// The transform parameters of docs/API.md ("Transform parameters"), built in
// the server's canonical form (src/ops/canonical.cpp): each value spelled as
// the server prints it, values equal to a default left out, keys sorted.
// Equal transforms therefore give equal query strings, which share one cached
// derivative and one URL signature.
import { encodeComponent, type QueryPairs } from "./query.js";

export type Fit = "inside" | "contain" | "cover" | "fill" | "outside";
export type Position =
  | "center"
  | "centre"
  | "north"
  | "south"
  | "east"
  | "west"
  | "northeast"
  | "northwest"
  | "southeast"
  | "southwest";
/** A point as fractions (0–1) of the width and the height. */
export interface FocalPoint {
  x: number;
  y: number;
}
/** `smart`: attention, or the stored focal point when set; `focus`: the stored focal point. */
export type Gravity = Position | "smart" | "entropy" | "focus" | FocalPoint;
export type Flip = "h" | "v" | "hv" | "vh";
export type OutputFormat =
  | "jpeg"
  | "jpg"
  | "png"
  | "webp"
  | "avif"
  | "heic"
  | "jxl"
  | "gif"
  | "tiff"
  | "tif"
  | "jp2"
  | "svg"
  | "auto";
/** A region of the upright image, in pixels. */
export interface Crop {
  x: number;
  y: number;
  width: number;
  height: number;
}
/** `rounded`: corner radius in px; `image`: that stored image's luminance as alpha. */
export type Mask = "circle" | "ellipse" | { rounded: number } | { image: string };
export interface WatermarkOptions {
  /** Default `southeast`. */
  gravity?: Position | FocalPoint;
  /** 0–1, default 0.5. */
  opacity?: number;
  /** Of the result's width, above 0 and at most 1; default 0.25. */
  scale?: number;
}

const maxDimension = 16384;
const maxCropCoordinate = 100_000_000;
const imageIdPattern = /^[A-Za-z0-9_-]{1,64}$/;
const formatAliases: Record<string, string> = { jpg: "jpeg", tif: "tiff" };
const outputFormats = new Set(["jpeg", "png", "webp", "avif", "heic", "jxl", "gif", "tiff", "jp2", "svg", "auto"]);
const positions = new Set(["center", "north", "south", "east", "west", "northeast", "northwest", "southeast", "southwest"]);

function invalid(name: string, expected: string, got: unknown): never {
  throw new RangeError(`${name} must be ${expected}, got ${JSON.stringify(got)}`);
}

function integer(name: string, value: number, lo: number, hi: number): number {
  if (!Number.isInteger(value) || value < lo || value > hi) invalid(name, `an integer from ${lo} to ${hi}`, value);
  return value;
}

/** Rounded to 6 fractional digits, halves away from zero, as the server rounds every decimal. */
function roundDecimal(value: number): number {
  return (Math.sign(value) * Math.round(Math.abs(value) * 1e6)) / 1e6 + 0; // + 0 turns -0 into 0
}

function decimal(name: string, value: number, lo: number, hi: number, loExclusive = false): number {
  const expected = loExclusive ? `a number above ${lo} and at most ${hi}` : `a number from ${lo} to ${hi}`;
  if (!Number.isFinite(value)) invalid(name, expected, value);
  const rounded = roundDecimal(value);
  if (rounded < lo || rounded > hi || (loExclusive && rounded <= lo)) invalid(name, expected, value);
  return rounded;
}

/**
 * The shortest plain decimal that reads back as `value` (the server's
 * `std::to_chars` fixed notation). Values here are rounded to 6 fractional
 * digits and below 10^21, where JavaScript's own shortest form never uses an
 * exponent.
 */
export function formatNumber(value: number): string {
  return value === 0 ? "0" : String(value);
}

function color(name: string, value: string, allowAlpha: boolean): string {
  const hex = value.startsWith("#") ? value.slice(1) : value;
  const sizeOk = hex.length === 6 || (allowAlpha && hex.length === 8);
  if (!sizeOk || !/^[0-9a-fA-F]+$/.test(hex)) invalid(name, allowAlpha ? "rrggbb or rrggbbaa (hex)" : "rrggbb (hex)", value);
  const lower = hex.toLowerCase();
  return lower.length === 8 && lower.endsWith("ff") ? lower.slice(0, 6) : lower;
}

function imageId(name: string, id: string): string {
  if (!imageIdPattern.test(id)) invalid(name, "an image id", id);
  return id;
}

function focalPoint(name: string, point: FocalPoint): string {
  const x = decimal(`${name} x`, point.x, 0, 1);
  const y = decimal(`${name} y`, point.y, 0, 1);
  return `fp:${formatNumber(x)}:${formatNumber(y)}`;
}

function position(name: string, value: Position | FocalPoint): string {
  if (typeof value === "object") return focalPoint(name, value);
  const lower = value.toLowerCase();
  const canonical = lower === "centre" ? "center" : lower;
  if (!positions.has(canonical)) invalid(name, "a position (center, north, …, southwest) or a focal point", value);
  return canonical;
}

/**
 * A transformation, e.g. `new Transform().width(300).height(300).fit('cover').format('webp')`.
 * Each method checks its value against the documented range (a RangeError
 * otherwise) and replaces an earlier value of the same parameter.
 */
export class Transform {
  readonly #params = new Map<string, string>();

  /** Target width in px, 1–16384 (with only one of width and height, the other follows the aspect ratio). */
  width(px: number): this {
    return this.#set("w", String(integer("width", px, 1, maxDimension)));
  }

  /** Target height in px, 1–16384. */
  height(px: number): this {
    return this.#set("h", String(integer("height", px, 1, maxDimension)));
  }

  /** Multiplies width and height, 1–4. */
  dpr(ratio: number): this {
    return this.#setUnlessDefault("dpr", formatNumber(decimal("dpr", ratio, 1, 4)), "1");
  }

  fit(fit: Fit): this {
    const value = fit.toLowerCase();
    if (!["inside", "contain", "cover", "fill", "outside"].includes(value)) invalid("fit", "inside, contain, cover, fill or outside", fit);
    return this.#setUnlessDefault("fit", value, "inside");
  }

  /** Where `cover` crops: a position, a content-aware kind or a focal point. */
  gravity(gravity: Gravity): this {
    const lower = typeof gravity === "string" ? gravity.toLowerCase() : "";
    const value = ["smart", "entropy", "focus"].includes(lower) ? lower : position("gravity", gravity as Position | FocalPoint);
    return this.#setUnlessDefault("gravity", value, "center");
  }

  /** A region of the upright image, before resizing. */
  crop(region: Crop): this {
    const x = integer("crop x", region.x, 0, maxCropCoordinate);
    const y = integer("crop y", region.y, 0, maxCropCoordinate);
    const w = integer("crop width", region.width, 1, maxCropCoordinate);
    const h = integer("crop height", region.height, 1, maxCropCoordinate);
    return this.#set("crop", `${x},${y},${w},${h}`);
  }

  /** Allow upscaling. */
  enlarge(on = true): this {
    return this.#flag("enlarge", on, false);
  }

  /** Degrees clockwise, any integer (taken modulo 360). */
  rotate(degrees: number): this {
    if (!Number.isInteger(degrees)) invalid("rotate", "an integer (degrees clockwise)", degrees);
    return this.#setUnlessDefault("rotate", String(((degrees % 360) + 360) % 360), "0");
  }

  flip(flip: Flip): this {
    const value = flip.toLowerCase() === "vh" ? "hv" : flip.toLowerCase();
    if (!["h", "v", "hv"].includes(value)) invalid("flip", "h, v or hv", flip);
    return this.#set("flip", value);
  }

  /** Apply the EXIF orientation (the default); `false` keeps the pixels as stored. */
  autorotate(on = true): this {
    return this.#flag("autorotate", on, true);
  }

  /** Gaussian blur sigma, 0.3–100. */
  blur(sigma: number): this {
    return this.#set("blur", formatNumber(decimal("blur", sigma, 0.3, 100)));
  }

  /** Sharpen sigma, 0.3–10. */
  sharpen(sigma: number): this {
    return this.#set("sharpen", formatNumber(decimal("sharpen", sigma, 0.3, 10)));
  }

  grayscale(on = true): this {
    return this.#flag("grayscale", on, false);
  }

  sepia(on = true): this {
    return this.#flag("sepia", on, false);
  }

  negate(on = true): this {
    return this.#flag("negate", on, false);
  }

  /** Multiplier, 0–10 (1 = unchanged). */
  brightness(factor: number): this {
    return this.#set("brightness", formatNumber(decimal("brightness", factor, 0, 10)));
  }

  /** Multiplier, 0–10 (1 = unchanged). */
  saturation(factor: number): this {
    return this.#set("saturation", formatNumber(decimal("saturation", factor, 0, 10)));
  }

  /** Rotation of hues in degrees (taken modulo 360). */
  hue(degrees: number): this {
    if (!Number.isFinite(degrees)) invalid("hue", "a number (degrees)", degrees);
    // As the server does it: the remainder first (exact), then the rounding.
    const turned = degrees % 360 < 0 ? (degrees % 360) + 360 : degrees % 360;
    const rounded = roundDecimal(turned);
    return this.#set("hue", formatNumber(rounded >= 360 ? 0 : rounded));
  }

  /** 0–10. */
  contrast(factor: number): this {
    return this.#set("contrast", formatNumber(decimal("contrast", factor, 0, 10)));
  }

  /** 0.1–10. */
  gamma(value: number): this {
    return this.#set("gamma", formatNumber(decimal("gamma", value, 0.1, 10)));
  }

  /** `rrggbb` (a leading `#` is fine). */
  tint(rgb: string): this {
    return this.#set("tint", color("tint", rgb, false));
  }

  mask(mask: Mask): this {
    if (mask === "circle" || mask === "ellipse") return this.#set("mask", mask);
    if (typeof mask === "object" && "rounded" in mask) return this.#set("mask", `rounded:${integer("mask radius", mask.rounded, 1, maxDimension)}`);
    if (typeof mask === "object" && "image" in mask) return this.#set("mask", `image:${imageId("mask image", mask.image)}`);
    return invalid("mask", "circle, ellipse, {rounded: R} or {image: id}", mask);
  }

  /** Composites the stored image `id` over the result. */
  watermark(id: string, options: WatermarkOptions = {}): this {
    this.#set("watermark", imageId("watermark", id));
    this.#params.delete("wm_gravity");
    this.#params.delete("wm_opacity");
    this.#params.delete("wm_scale");
    if (options.gravity !== undefined) this.#setUnlessDefault("wm_gravity", position("watermark gravity", options.gravity), "southeast");
    if (options.opacity !== undefined) this.#setUnlessDefault("wm_opacity", formatNumber(decimal("watermark opacity", options.opacity, 0, 1)), "0.5");
    if (options.scale !== undefined) this.#setUnlessDefault("wm_scale", formatNumber(decimal("watermark scale", options.scale, 0, 1, true)), "0.25");
    return this;
  }

  /** `rrggbb` or `rrggbbaa`, for padding, flattening and rotation fill. */
  background(rgba: string): this {
    return this.#set("bg", color("background", rgba, true));
  }

  /** Trims borders that differ from the corner colour by less than the threshold (`true`: 10; 1–254). */
  trim(threshold: boolean | number = true): this {
    if (threshold === false) return this.#unset("trim");
    const value = threshold === true ? 10 : integer("trim", threshold, 1, 254);
    return this.#set("trim", String(value));
  }

  /** The output format; `auto` chooses by the request's `Accept`. */
  format(format: OutputFormat): this {
    const lower = format.toLowerCase();
    const value = formatAliases[lower] ?? lower;
    if (!outputFormats.has(value)) invalid("format", [...outputFormats].join(", "), format);
    return this.#set("format", value);
  }

  /** Quality 1–100. */
  quality(q: number): this {
    return this.#set("q", String(integer("quality", q, 1, 100)));
  }

  /** Lossless webp, avif or jxl. */
  lossless(on = true): this {
    return this.#flag("lossless", on, false);
  }

  progressive(on = true): this {
    return this.#flag("progressive", on, false);
  }

  /** Encoder effort, 0 (fastest) – 9 (smallest). */
  effort(level: number): this {
    return this.#set("effort", String(integer("effort", level, 0, 9)));
  }

  /** Drop metadata but the ICC profile (the default); `false` keeps it. */
  strip(on = true): this {
    return this.#flag("strip", on, true);
  }

  /** Page or frame of a multi-page input, from 0. */
  page(index: number): this {
    return this.#set("page", String(integer("page", index, 0, 1000)));
  }

  /** Keep every frame for gif or webp output. */
  animated(on = true): this {
    return this.#flag("animated", on, false);
  }

  /**
   * A named set of parameters from the server's configuration, applied first.
   * The server expands it, so a query with a preset is not the canonical form.
   */
  preset(name: string): this {
    return this.#set("preset", name);
  }

  /** A stored image served (transformed the same way) when the requested one is missing. Not part of the canonical form. */
  fallback(id: string): this {
    return this.#set("fallback", imageId("fallback", id));
  }

  /** No parameter set: the plain original. */
  get isEmpty(): boolean {
    return this.#params.size === 0;
  }

  clone(): Transform {
    const copy = new Transform();
    for (const [key, value] of this.#params) copy.#params.set(key, value);
    return copy;
  }

  /** The parameters sorted by key, as the server's canonical form lists them. */
  toParams(): QueryPairs {
    return [...this.#params.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  }

  /**
   * The query string, e.g. `fit=cover&format=webp&h=300&w=300`: exactly the
   * server's canonical form (`canonical` of `/explain`) when neither `preset`
   * nor `fallback` is set.
   */
  toQuery(): string {
    // Canonical values hold nothing a query must escape but for `:` and `,`,
    // which the server prints as they are; anything else (a preset's name) is escaped.
    const escape = (text: string) => encodeComponent(text).replace(/%3A/g, ":").replace(/%2C/g, ",");
    return this.toParams()
      .map(([key, value]) => `${key}=${escape(value)}`)
      .join("&");
  }

  toString(): string {
    return this.toQuery();
  }

  #set(key: string, value: string): this {
    this.#params.set(key, value);
    return this;
  }

  #unset(key: string): this {
    this.#params.delete(key);
    return this;
  }

  #setUnlessDefault(key: string, value: string, defaultValue: string): this {
    return value === defaultValue ? this.#unset(key) : this.#set(key, value);
  }

  #flag(key: string, on: boolean, defaultValue: boolean): this {
    return on === defaultValue ? this.#unset(key) : this.#set(key, String(on));
  }
}

/** A transform given as a builder or as a query string (`w=300&fit=cover`). */
export type TransformInput = Transform | string;

/** The parameters of a transform input as pairs, in the order they will be sent. */
export function transformPairs(transform: TransformInput | undefined): QueryPairs {
  if (transform === undefined) return [];
  if (transform instanceof Transform) return transform.toParams();
  return [...new URLSearchParams(transform).entries()];
}
