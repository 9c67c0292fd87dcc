// CPython's framing on its own: frames written, cut into arbitrary chunks, parsed back; large-frame headers,
// malformed headers, and frames skipped as they arrive.
import fc from "fast-check";
import assert from "node:assert/strict";
import { test } from "node:test";
import { ProcessError } from "../lib/errors.ts";
import { frame, framedLength, FrameParser } from "../lib/transport/framing.ts";

/** `bytes` cut at the given points (sorted, deduplicated, inside the array). */
function cut(bytes: Uint8Array, points: number[]): Uint8Array[] {
  const at = [...new Set(points.map((p) => p % (bytes.length + 1)))].sort((a, b) => a - b);
  const chunks: Uint8Array[] = [];
  let from = 0;
  for (const p of [...at, bytes.length]) {
    chunks.push(bytes.slice(from, p));
    from = p;
  }
  return chunks;
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

test("frames cut into any chunks parse back to the same messages, in order, as plain Uint8Arrays", () => {
  fc.assert(
    fc.property(
      fc.array(fc.uint8Array({ maxLength: 300 }), { maxLength: 12 }),
      fc.array(fc.nat(), { maxLength: 20 }),
      (messages, points) => {
        const stream = concat(messages.map(frame));
        assert.equal(stream.length, messages.reduce((n, m) => n + framedLength(m.length), 0));
        const parser = new FrameParser();
        const got: Uint8Array[] = [];
        for (const chunk of cut(stream, points)) {
          parser.push(chunk);
          for (let next = parser.next(); next; next = parser.next()) got.push(next);
        }
        assert.deepEqual(got, messages);
        assert.equal(parser.buffered, 0);
        assert.equal(parser.nextLength(), -1);
      },
    ),
    { numRuns: 200 },
  );
});

test("the length is known once the header is in, the frame only once all of it is", () => {
  const parser = new FrameParser();
  const framed = frame(new Uint8Array([1, 2, 3, 4, 5]));
  parser.push(framed.subarray(0, 3));
  assert.equal(parser.nextLength(), -1);
  assert.equal(parser.next(), null);
  parser.push(framed.subarray(3, 6));
  assert.equal(parser.nextLength(), 5);
  assert.equal(parser.next(), null);
  parser.push(framed.subarray(6));
  assert.deepEqual(parser.next(), new Uint8Array([1, 2, 3, 4, 5]));
});

test("a -1 length is followed by the length in 8 bytes, as CPython writes frames over 2 GiB", () => {
  const parser = new FrameParser();
  const head = new Uint8Array(12);
  const view = new DataView(head.buffer);
  view.setInt32(0, -1);
  view.setBigUint64(4, 3n);
  parser.push(head.subarray(0, 8));
  assert.equal(parser.nextLength(), -1, "half of the long header is not a length");
  parser.push(head.subarray(8));
  assert.equal(parser.nextLength(), 3);
  parser.push(new Uint8Array([7, 8, 9]));
  assert.deepEqual(parser.next(), new Uint8Array([7, 8, 9]));
  assert.equal(framedLength(2 ** 31), 12 + 2 ** 31);
});

test("a negative length other than -1 is a malformed stream", () => {
  const parser = new FrameParser();
  parser.push(new Uint8Array([0xff, 0xff, 0xff, 0xfe, 0]));
  assert.throws(() => parser.nextLength(), (error) => error instanceof ProcessError && /length -2/.test(error.message));
});

test("a skipped frame is dropped as its bytes arrive; the frames after it parse, and its head is kept", () => {
  fc.assert(
    fc.property(
      fc.uint8Array({ minLength: 0, maxLength: 500 }),
      fc.uint8Array({ maxLength: 50 }),
      fc.array(fc.nat(), { maxLength: 10 }),
      (skipped, after, points) => {
        const parser = new FrameParser();
        const got: Uint8Array[] = [];
        let head: Uint8Array | null = null;
        for (const chunk of cut(concat([frame(skipped), frame(after)]), points)) {
          parser.push(chunk);
          for (;;) {
            if (head === null && parser.nextLength() >= 0) {
              head = parser.skip(64);
              continue;
            }
            const next = parser.next();
            if (!next) break;
            got.push(next);
          }
        }
        assert.ok(head !== null);
        // What arrived with the header, up to 64 bytes: a prefix of the skipped frame.
        assert.deepEqual(head, skipped.subarray(0, head.length));
        assert.deepEqual(got, [after]);
        assert.equal(parser.buffered, 0);
      },
    ),
    { numRuns: 200 },
  );
});
