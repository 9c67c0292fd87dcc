/**
 * The two serializers a manager can speak (CPython's managers name theirs
 * "pickle" and "xmlrpclib"): `"pickle"` (CPython's, the
 * default, so a Python 3.11+ peer needs no change) and `"json"` (simple and
 * runtime-neutral, with tags for tokens, errors, bytes, maps and sets).
 *
 * @module
 */

import { dumps, loads, PyException, Token, tuple } from "../reduction/pickle.ts";

/** How a manager encodes its messages. */
export type Serializer = "pickle" | "json";

/** Encodes and decodes one message. */
export interface MessageSerializer {
  dumps(value: unknown): Uint8Array;
  loads(bytes: Uint8Array): unknown;
}

const enc = new TextEncoder();
const dec = new TextDecoder("utf-8", { fatal: true });

function toBase64(bytes: Uint8Array): string {
  let s = "";
  for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(s);
}

function fromBase64(text: string): Uint8Array {
  const s = atob(text);
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
}

function encodeJson(value: unknown, depth = 0): unknown {
  if (depth > 1000) throw new TypeError("value nests too deep (or is circular) to encode");
  if (value === undefined) return null;
  if (value === null || typeof value === "string" || typeof value === "boolean") return value;
  if (typeof value === "number") return Number.isFinite(value) ? value : { "#float": String(value) };
  if (typeof value === "bigint") return { "#int": value.toString() };
  if (typeof value === "function" || typeof value === "symbol") {
    throw new TypeError(`cannot encode ${typeof value}: send data (strings, numbers, arrays, plain objects)`);
  }
  if (Array.isArray(value)) return value.map((v) => encodeJson(v, depth + 1));
  if (value instanceof Uint8Array) return { "#bytes": toBase64(value) };
  if (value instanceof Map) {
    return { "#map": [...value].map(([k, v]) => [encodeJson(k, depth + 1), encodeJson(v, depth + 1)]) };
  }
  if (value instanceof Set) return { "#set": [...value].map((v) => encodeJson(v, depth + 1)) };
  if (value instanceof Token) return { "#token": [value.typeid, value.address, value.id] };
  if (value instanceof PyException) {
    return { "#error": [value.className, value.args.map((a) => encodeJson(a, depth + 1))] };
  }
  if (value instanceof Error) return { "#error": [value.name, [value.message]] };
  const proto = Object.getPrototypeOf(value);
  if (proto === Object.prototype || proto === null) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
      out[k.startsWith("#") ? `#${k}` : k] = encodeJson(v, depth + 1);
    }
    return out;
  }
  throw new TypeError(
    `cannot encode an instance of ${proto?.constructor?.name ?? "an unknown class"}: send plain data`,
  );
}

function decodeJson(value: unknown, depth = 0): unknown {
  // Deeper than the encoder writes is refused before the recursion can exhaust the stack.
  if (depth > 1000) throw new TypeError("a JSON message nests too deep");
  const next = (v: unknown) => decodeJson(v, depth + 1);
  if (Array.isArray(value)) return value.map(next);
  if (value === null || typeof value !== "object") return value;
  const rec = value as Record<string, unknown>;
  const keys = Object.keys(rec);
  const tag = keys.length === 1 ? keys[0] : undefined;
  if (tag !== undefined && tag.startsWith("#") && !tag.startsWith("##")) {
    const v = rec[tag];
    switch (tag) {
      case "#float":
        return Number(v);
      case "#int":
        return BigInt(String(v));
      case "#bytes":
        return fromBase64(String(v));
      case "#map":
        return new Map((v as [unknown, unknown][]).map(([a, b]) => [next(a), next(b)]));
      case "#set":
        return new Set((v as unknown[]).map(next));
      case "#token": {
        const [typeid, address, id] = v as [string, [string, number] | string, string];
        return new Token(String(typeid), address, String(id));
      }
      case "#error": {
        const [name, args] = v as [string, unknown[]];
        return new PyException("builtins", String(name), (args ?? []).map(next));
      }
    }
    throw new TypeError(`unknown tag ${tag} in a JSON message`);
  }
  const out: Record<string, unknown> = {};
  for (const k of keys) {
    Object.defineProperty(out, k.startsWith("##") ? k.slice(1) : k, {
      value: next(rec[k]),
      enumerable: true,
      writable: true,
      configurable: true,
    });
  }
  return out;
}

const json: MessageSerializer = {
  dumps: (value) => enc.encode(JSON.stringify(encodeJson(value))),
  loads: (bytes) => decodeJson(JSON.parse(dec.decode(bytes))),
};

const pickle: MessageSerializer = { dumps, loads };
// A server holds values for Python peers: a whole-number float stays a float (PyFloat) until it goes back.
const pickleKeepingFloats: MessageSerializer = { dumps, loads: (bytes) => loads(bytes, { keepFloats: true }) };

/** The dumps/loads pair of a serializer name; anything else is a clear error. */
export function messageSerializer(
  serializer: Serializer | undefined,
  options: { keepFloats?: boolean } = {},
): MessageSerializer {
  if (serializer === undefined || serializer === "pickle") return options.keepFloats ? pickleKeepingFloats : pickle;
  if (serializer === "json") return json;
  throw new TypeError(`unknown serializer ${JSON.stringify(serializer)}: use "pickle" or "json"`);
}

export { tuple };
