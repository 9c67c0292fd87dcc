// Pipes between processes, on rings: CPython's _TestConnection cases, ported.
import fc from "fast-check";
import assert from "node:assert/strict";
import { test } from "node:test";
import { BufferTooShort, EOFError, Pipe, Process, ProcessError } from "../mod.ts";
import * as fx from "./fixtures/queue_targets.ts";

test("send/recv across processes, then EOFError once the other end is closed everywhere and drained", async () => {
  const [parentEnd, childEnd] = Pipe();
  const p = new Process({ target: fx.sendAndLeave, args: [childEnd, [1, "two", { three: [3] }]] });
  p.start();
  childEnd.close();
  assert.equal(await parentEnd.recv(), 1);
  assert.equal(await parentEnd.recv(), "two");
  assert.deepEqual(await parentEnd.recv(), { three: [3] });
  await assert.rejects(parentEnd.recv(), EOFError);
  await p.join();
  parentEnd.close();
});

test("a duplex pipe echoes through a child", async () => {
  const [a, b] = Pipe();
  const p = new Process({ target: fx.echo, args: [b] });
  p.start();
  b.close();
  for (const message of [0, "x", [1, 2], new Map([[1, 2]])]) {
    await a.send(message);
    assert.deepEqual(await a.recv(), message);
  }
  a.close();
  await p.join();
  assert.equal(p.exitcode, 0);
});

test("Pipe(false): the read end cannot send and the write end cannot receive", async () => {
  const [reader, writer] = Pipe(false);
  assert.equal(reader.readable, true);
  assert.equal(reader.writable, false);
  assert.equal(writer.readable, false);
  assert.equal(writer.writable, true);
  await assert.rejects(reader.send(1), ProcessError);
  await assert.rejects(writer.recv(), ProcessError);
  await writer.send("one way");
  assert.equal(await reader.recv(), "one way");
  writer.close();
  await assert.rejects(reader.recv(), EOFError);
});

test("poll is false, then true once a message is there", async () => {
  const [a, b] = Pipe();
  assert.equal(await a.poll(), false);
  assert.equal(await a.poll(20), false);
  await b.send("ready");
  assert.equal(await a.poll(), true);
  assert.equal(await a.poll(null), true, "null waits forever, as Python's None: here it finds the message");
  assert.equal(await a.poll(-5), true, "a negative timeout is 0");
  await assert.rejects(a.poll(NaN), TypeError);
  assert.equal(await a.recv(), "ready");
});

test("recvBytesInto: the message lands at the offset; too short a buffer gives BufferTooShort with the message", async () => {
  const [a, b] = Pipe();
  await b.sendBytes(new TextEncoder().encode("abcdefghij"), 2, 5);
  const buffer = new Uint8Array(8);
  assert.equal(await a.recvBytesInto(buffer, 3), 5);
  assert.equal(new TextDecoder().decode(buffer.subarray(3)), "cdefg");
  await b.sendBytes(new Uint8Array(20).fill(9));
  await assert.rejects(a.recvBytesInto(new Uint8Array(10)), (e: unknown) => {
    return e instanceof BufferTooShort && e.bytes.length === 20 && e.bytes[19] === 9;
  });
  await b.sendBytes(new Uint8Array([1]));
  assert.deepEqual(await a.recvBytes(), new Uint8Array([1]), "the connection stays sane");
});

test("received messages of any size are the caller's own: kept ones stay intact as more arrive, each 8-aligned", async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(fc.integer({ min: 0, max: 40_000 }), { maxLength: 40 }), async (sizes) => {
      const [a, b] = Pipe(false);
      const kept: Uint8Array[] = [];
      for (const [i, size] of sizes.entries()) {
        await b.sendBytes(new Uint8Array(size).fill(i + 1));
        const got = await a.recvBytes();
        kept.push(got);
        // A receiver may scribble on what it got: that must not reach any other message.
        got.fill(i + 1);
      }
      for (const [i, got] of kept.entries()) {
        assert.equal(got.length, sizes[i]);
        assert.ok(got.every((byte) => byte === ((i + 1) & 0xff)), `message ${i} was overwritten`);
        assert.equal(got.byteOffset % 8, 0);
      }
      b.close();
      a.close();
    }),
    { numRuns: 30 },
  );
});

test("recvBytesInto a message that arrives later, from a child", async () => {
  const [a, b] = Pipe();
  const p = new Process({ target: fx.echo, args: [b, true] });
  p.start();
  b.close();
  const buffer = new Uint8Array(6);
  const landed = a.recvBytesInto(buffer, 2);
  await a.sendBytes(new Uint8Array([4, 3, 2, 1]));
  assert.equal(await landed, 4);
  assert.deepEqual(buffer, new Uint8Array([0, 0, 4, 3, 2, 1]));
  a.close();
  await p.join();
});

test("an oversized message for recvBytes(maxlength) is an error and the connection stays sane", async () => {
  const [a, b] = Pipe();
  await b.sendBytes(new Uint8Array(100));
  await b.sendBytes(new Uint8Array([7]));
  await assert.rejects(a.recvBytes(10), /bad message length/);
  assert.deepEqual(await a.recvBytes(10), new Uint8Array([7]));
});

test("a 16 MiB message round trip through a child", async () => {
  const [a, b] = Pipe();
  const size = 16 << 20;
  const p = new Process({ target: fx.sendBig, args: [b, size] });
  p.start();
  const bytes = await a.recvBytes();
  assert.equal(bytes.length, size);
  for (let i = 0; i < size; i += 4096) assert.equal(bytes[i], (i / 4096) & 0xff);
  await p.join();
});

test("closed connections refuse use", async () => {
  const [a] = Pipe();
  a.close();
  assert.equal(a.closed, true);
  await assert.rejects(a.send(1), ProcessError);
  await assert.rejects(a.recv(), ProcessError);
});
