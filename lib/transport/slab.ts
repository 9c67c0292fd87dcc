/**
 * The slab allocator for messages taken out of a ring: small messages are copied into a shared slab, each a
 * view of its own part, as Node pools small Buffers.
 *
 * @module
 */
import { runtime } from "../runtime/detect.ts";
import type { Decoder } from "./ring.ts";

/** The largest message copied into a shared slab rather than a buffer of its own. */
const POOLED_MAX = 16 * 1024;
/** How many messages the size of the one that opens a slab it holds, and its bounds in bytes. */
const SLAB_MESSAGES = 8;
const SLAB_MIN = 4 * 1024;
const SLAB_MAX = SLAB_MESSAGES * POOLED_MAX;

/**
 * The slab that received messages of up to POOLED_MAX bytes are copied into, each a view of its own part, as
 * Node pools small Buffers: an ArrayBuffer costs more to allocate than to fill (in Deno about 2 us for 16 KiB,
 * 4x its copy), and a stream of messages would pay that for each. A slab is sized for SLAB_MESSAGES messages
 * like the one that opens it, so a message kept alone keeps at most that much memory alive. Views start at
 * multiples of 8, so that any typed array view of a message's bytes lines up.
 */
let slab = new Uint8Array(0);
let slabUsed = 0;

/**
 * A message's bytes copied out of the ring: the caller's own, in a shared slab when small (so their `buffer` may
 * hold other messages too).
 */
export const copyOut: Decoder<Uint8Array> = (data, at, length) => {
  if (length > POOLED_MAX) return data.slice(at, at + length);
  if (slabUsed + length > slab.length) {
    slab = new Uint8Array(Math.min(SLAB_MAX, Math.max(SLAB_MIN, SLAB_MESSAGES * length)));
    slabUsed = 0;
  }
  const bytes = slab.subarray(slabUsed, slabUsed + length);
  slabUsed += (length + 7) & ~7;
  bytes.set(data.subarray(at, at + length));
  return bytes;
};

// Every message received goes through it (see lib/runtime/bun.ts).
runtime.avoidTopJitTier?.([copyOut]);
