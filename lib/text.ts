/**
 * Text mode as Python's `subprocess` has it: bytes decoded with an encoding and an `errors` handler
 * (`strict` raises `UnicodeDecodeError`), and universal newlines (`\r\n` and `\r` read as `\n`), whole or
 * piece by piece as a pipe delivers them.
 *
 * @module
 */
import { UnicodeDecodeError } from "./errors.ts";

/** How bytes that are not text in the encoding are handled (Python's `errors`). */
export type DecodeErrors = "strict" | "replace" | "ignore" | "backslashreplace";

const HANDLERS: readonly string[] = ["strict", "replace", "ignore", "backslashreplace"];

/** The encodings decoded here, byte by byte where they can fail, so every `errors` handler works with them. */
type Own = "utf-8" | "ascii" | "latin-1";

const ALIASES: Record<string, Own> = {
  "utf-8": "utf-8",
  "utf8": "utf-8",
  "utf_8": "utf-8",
  "u8": "utf-8",
  "ascii": "ascii",
  "us-ascii": "ascii",
  "646": "ascii",
  "latin-1": "latin-1",
  "latin1": "latin-1",
  "latin_1": "latin-1",
  "iso-8859-1": "latin-1",
  "iso8859-1": "latin-1",
  "l1": "latin-1",
};

/** An encoding and an errors handler, checked. */
export interface TextOptions {
  encoding: string;
  errors: DecodeErrors;
}

/** Checks `encoding` and `errors` as Python's text mode takes them (`LookupError` in Python: here a RangeError). */
export function textOptions(encoding: string | undefined, errors: string | undefined): TextOptions {
  if (errors !== undefined && !HANDLERS.includes(errors)) {
    throw new RangeError(`unknown error handler name ${JSON.stringify(errors)} (known: ${HANDLERS.join(", ")})`);
  }
  const handler = (errors ?? "strict") as DecodeErrors;
  if (encoding === undefined) return { encoding: "utf-8", errors: handler };
  if (typeof encoding !== "string") throw new TypeError(`encoding must be a string, got ${String(encoding)}`);
  const own = ALIASES[encoding.toLowerCase()];
  if (own) return { encoding: own, errors: handler };
  try {
    new TextDecoder(encoding);
  } catch {
    throw new RangeError(`unknown encoding: ${encoding}`);
  }
  if (handler === "ignore" || handler === "backslashreplace") {
    throw new RangeError(
      `errors ${JSON.stringify(handler)} works with utf-8, ascii and latin-1; ${encoding} takes "strict" or "replace"`,
    );
  }
  return { encoding, errors: handler };
}

/** Encodes text input for the child in `encoding` (Python encodes it with the same encoding and errors "strict"). */
export function encodeText(text: string, encoding: string): Uint8Array {
  if (encoding === "utf-8") return new TextEncoder().encode(text);
  if (encoding === "ascii" || encoding === "latin-1") {
    const limit = encoding === "ascii" ? 0x7f : 0xff;
    const bytes = new Uint8Array(text.length);
    for (let i = 0; i < text.length; i++) {
      const code = text.charCodeAt(i);
      if (code > limit) {
        throw new RangeError(
          `'${encoding}' codec can't encode character '\\u${code.toString(16).padStart(4, "0")}' in position ${i}`,
        );
      }
      bytes[i] = code;
    }
    return bytes;
  }
  throw new TypeError(`text input can be encoded as utf-8, ascii or latin-1, not ${encoding}: pass a Uint8Array`);
}

/**
 * How long the UTF-8 sequence starting at `at` is when it is valid (`ok` true), or how many of its bytes form
 * the longest valid start of one (at least 1) and why it stops there; `more` when the bytes ran out before it
 * could be told.
 */
function utf8Sequence(bytes: Uint8Array, at: number): { ok: boolean; length: number; more: boolean; reason: string } {
  const lead = bytes[at]!;
  let need: number, low = 0x80, high = 0xbf;
  if (lead < 0x80) return { ok: true, length: 1, more: false, reason: "" };
  if (lead >= 0xc2 && lead <= 0xdf) need = 1;
  else if (lead >= 0xe0 && lead <= 0xef) {
    need = 2;
    if (lead === 0xe0) low = 0xa0;
    if (lead === 0xed) high = 0x9f;
  } else if (lead >= 0xf0 && lead <= 0xf4) {
    need = 3;
    if (lead === 0xf0) low = 0x90;
    if (lead === 0xf4) high = 0x8f;
  } else return { ok: false, length: 1, more: false, reason: "invalid start byte" };
  for (let k = 1; k <= need; k++) {
    if (at + k >= bytes.length) return { ok: false, length: k, more: true, reason: "unexpected end of data" };
    const b = bytes[at + k]!;
    if (b < low || b > high) return { ok: false, length: k, more: false, reason: "invalid continuation byte" };
    low = 0x80;
    high = 0xbf;
  }
  return { ok: true, length: need + 1, more: false, reason: "" };
}

const strictUtf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/**
 * Decodes bytes piece by piece: a sequence cut between two pieces waits for the next one, and with
 * `newlines` a `\r` at a piece's end waits to see whether `\n` follows.
 */
export class Decoder {
  readonly #encoding: string;
  readonly #errors: DecodeErrors;
  readonly #newlines: boolean;
  /** Bytes of a sequence the last piece ended inside of. */
  #tail: Uint8Array | null = null;
  #cr = false;
  /** How many bytes came before the current piece (where an error is, as Python counts it, in the whole). */
  #offset = 0;
  readonly #other: TextDecoder | null;

  /** A decoder for `encoding` with the `errors` handler; `newlines` reads `\r\n` and `\r` as `\n`. */
  constructor(options: TextOptions, newlines: boolean) {
    this.#encoding = options.encoding;
    this.#errors = options.errors;
    this.#newlines = newlines;
    this.#other = ALIASES[options.encoding]
      ? null
      : new TextDecoder(options.encoding, { fatal: options.errors === "strict" });
  }

  /** Decodes the next piece; `last` ends the text (a sequence still cut is then an error). */
  decode(piece: Uint8Array, last: boolean): string {
    let text: string;
    if (this.#other) {
      try {
        text = this.#other.decode(piece, { stream: !last });
      } catch {
        // The platform's decoder does not say where: the whole piece is reported.
        throw new UnicodeDecodeError(this.#encoding, piece, 0, Math.max(piece.length, 1), "invalid data");
      }
    } else {
      let bytes = piece;
      if (this.#tail) {
        bytes = new Uint8Array(this.#tail.length + piece.length);
        bytes.set(this.#tail);
        bytes.set(piece, this.#tail.length);
        this.#tail = null;
      }
      text = this.#decodeOwn(bytes, last);
      this.#offset += bytes.length - this.#tailLength();
    }
    return this.#newlines ? this.#translate(text, last) : text;
  }

  #tailLength(): number {
    return this.#tail?.length ?? 0;
  }

  #translate(text: string, last: boolean): string {
    if (this.#cr) {
      text = "\r" + text;
      this.#cr = false;
    }
    if (!last && text.endsWith("\r")) {
      this.#cr = true;
      text = text.slice(0, -1);
    }
    return text.includes("\r") ? text.replace(/\r\n?/g, "\n") : text;
  }

  #decodeOwn(bytes: Uint8Array, last: boolean): string {
    const encoding = this.#encoding;
    if (encoding === "latin-1") return latin1(bytes);
    if (encoding === "utf-8") {
      let end = bytes.length;
      if (!last) end = completeUpTo(bytes);
      const whole = end === bytes.length ? bytes : bytes.subarray(0, end);
      if (end < bytes.length) this.#tail = bytes.slice(end);
      try {
        // The common case, valid text, decoded natively.
        return strictUtf8.decode(whole);
      } catch {
        return this.#slowUtf8(whole);
      }
    }
    // ascii
    let plain = true;
    for (let i = 0; i < bytes.length && plain; i++) plain = bytes[i]! < 0x80;
    if (plain) return latin1(bytes);
    let out = "";
    for (let i = 0; i < bytes.length; i++) {
      const b = bytes[i]!;
      out += b < 0x80 ? String.fromCharCode(b) : this.#bad(bytes, i, i + 1, "ordinal not in range(128)");
    }
    return out;
  }

  #slowUtf8(bytes: Uint8Array): string {
    let out = "";
    let run = 0;
    let i = 0;
    while (i < bytes.length) {
      const seq = utf8Sequence(bytes, i);
      if (seq.ok) {
        i += seq.length;
        continue;
      }
      out += strictUtf8.decode(bytes.subarray(run, i));
      out += this.#bad(bytes, i, i + seq.length, seq.reason);
      i += seq.length;
      run = i;
    }
    return out + strictUtf8.decode(bytes.subarray(run));
  }

  /** What the errors handler makes of `bytes[start:end]`, which do not decode. */
  #bad(bytes: Uint8Array, start: number, end: number, reason: string): string {
    switch (this.#errors) {
      case "strict":
        throw new UnicodeDecodeError(this.#encoding, bytes, this.#offset + start, this.#offset + end, reason);
      case "replace":
        return "\ufffd";
      case "ignore":
        return "";
      case "backslashreplace": {
        let out = "";
        for (let i = start; i < end; i++) out += `\\x${bytes[i]!.toString(16).padStart(2, "0")}`;
        return out;
      }
    }
  }
}

/** Where the last complete (or certainly broken) UTF-8 sequence of `bytes` ends: after it, a start cut short. */
function completeUpTo(bytes: Uint8Array): number {
  // A sequence is at most 4 bytes: only the last 3 can be the start of one cut short.
  for (let at = bytes.length - 1; at >= 0 && at >= bytes.length - 3; at--) {
    const b = bytes[at]!;
    if (b < 0x80) return bytes.length;
    if (b >= 0xc0) return utf8Sequence(bytes, at).more ? at : bytes.length;
  }
  return bytes.length;
}

function latin1(bytes: Uint8Array): string {
  let out = "";
  for (let at = 0; at < bytes.length; at += 8192) {
    out += String.fromCharCode(...bytes.subarray(at, at + 8192));
  }
  return out;
}
