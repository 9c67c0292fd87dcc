// Listener and Client over TCP: CPython's framing as a raw peer writes it, the handshake, and a Python peer.
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { EventEmitter } from "node:events";
import { createServer, type Server, type Socket } from "node:net";
import { test } from "node:test";
import { FrameReader } from "../lib/connection/socket.ts";
import { frame } from "../lib/transport/framing.ts";
import { AuthenticationError, Client, EOFError, Listener, ProcessError } from "../mod.ts";

/** A server that writes `bytes` to its first client, a piece at a time, then ends the stream. */
async function rawPeer(pieces: Uint8Array[]): Promise<{ server: Server; port: number }> {
  const server = createServer((socket) => {
    for (const piece of pieces) socket.write(piece);
    socket.end();
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { server, port: (server.address() as { port: number }).port };
}

test("frames that arrive a byte at a time are whole messages; the end after them is EOFError", async () => {
  const stream = new Uint8Array([...frame(new Uint8Array([1, 2, 3])), ...frame(new Uint8Array(0))]);
  const { server, port } = await rawPeer([...stream].map((byte) => new Uint8Array([byte])));
  const conn = await Client(["127.0.0.1", port], { serializer: "native" });
  assert.deepEqual(await conn.recvBytes(), new Uint8Array([1, 2, 3]));
  assert.deepEqual(await conn.recvBytes(), new Uint8Array(0));
  await assert.rejects(conn.recvBytes(), EOFError);
  conn.close();
  server.close();
});

test("a stream that ends inside a frame is EOFError saying so; a negative length is a malformed stream", async () => {
  const cut = await rawPeer([frame(new Uint8Array(10)).subarray(0, 9)]);
  const conn = await Client(["127.0.0.1", cut.port]);
  await assert.rejects(
    conn.recvBytes(),
    (error) => error instanceof EOFError && /inside a frame of 10/.test(error.message),
  );
  conn.close();
  cut.server.close();
  const bad = await rawPeer([new Uint8Array([0xff, 0xff, 0xff, 0xf0, 1, 2])]);
  const badConn = await Client(["127.0.0.1", bad.port]);
  await assert.rejects(
    badConn.recvBytes(),
    (error) => error instanceof ProcessError && /malformed/.test(error.message),
  );
  badConn.close();
  bad.server.close();
});

test("Listener/Client over TCP with an authkey; a wrong key is an AuthenticationError", async () => {
  const listener = new Listener(["127.0.0.1", 0], { authkey: "secret" });
  const address = await listener.ready;
  const [server, client] = await Promise.all([listener.accept(), Client(address, { authkey: "secret" })]);
  // poll(null) waits without limit (it used to give a timer of Infinity ms, which fires at once).
  const polling = server.poll(null);
  await client.send({ ping: 1 });
  assert.equal(await polling, true);
  assert.deepEqual(await server.recv(), { ping: 1 });
  await server.sendBytes(new Uint8Array([1, 2, 3]));
  assert.deepEqual(await client.recvBytes(), new Uint8Array([1, 2, 3]));
  client.close();
  await assert.rejects(server.recv(), EOFError);
  server.close();
  const results = await Promise.allSettled([listener.accept(), Client(address, { authkey: "wrong" })]);
  assert.ok(results.every((r) => r.status === "rejected" && r.reason instanceof AuthenticationError));
  listener.close();
});

test("a Listener closed before it was listening binds nothing: ready resolves and accept says it is closed", async () => {
  const listener = new Listener(["127.0.0.1", 0]);
  listener.close();
  assert.deepEqual(await listener.ready, ["127.0.0.1", 0]);
  await assert.rejects(listener.accept(), /listener is closed/);
});

const hasPython = spawnSync("python3", ["--version"]).status === 0;

test("a CPython Client talks to our Listener, and our Client to a CPython Listener", {
  skip: hasPython ? false : "python3 is not on this machine",
}, async () => {
  const listener = new Listener(["127.0.0.1", 0], { authkey: "pykey" });
  const [, port] = await listener.ready;
  const python = spawn("python3", [
    "-c",
    `
from multiprocessing.connection import Client
c = Client(("127.0.0.1", ${port}), authkey=b"pykey")
data = c.recv_bytes()
c.send_bytes(data.upper())
c.close()
`,
  ]);
  const server = await listener.accept();
  await server.sendBytes(new TextEncoder().encode("hello python"));
  assert.equal(new TextDecoder().decode(await server.recvBytes()), "HELLO PYTHON");
  await new Promise((resolve) => python.on("exit", resolve));
  server.close();
  listener.close();

  const pyListener = spawn("python3", [
    "-c",
    `
from multiprocessing.connection import Listener
l = Listener(("127.0.0.1", 0), authkey=b"pykey")
print(l.address[1], flush=True)
c = l.accept()
c.send_bytes(c.recv_bytes()[::-1])
c.close()
try:
    l.accept()
except Exception as e:
    print(type(e).__name__, flush=True)
`,
  ]);
  const lines: string[] = [];
  let output = "";
  const gotLine = () =>
    new Promise<void>((resolve) => {
      const check = () => {
        if (output.includes("\n")) {
          const at = output.indexOf("\n");
          lines.push(output.slice(0, at));
          output = output.slice(at + 1);
          resolve();
        } else pyListener.stdout.once("data", (chunk) => ((output += chunk), check()));
      };
      check();
    });
  await gotLine();
  const pyPort = Number(lines[0]);
  const conn = await Client(["127.0.0.1", pyPort], { authkey: "pykey" });
  await conn.sendBytes(new TextEncoder().encode("abc"));
  assert.equal(new TextDecoder().decode(await conn.recvBytes()), "cba");
  conn.close();
  await assert.rejects(Client(["127.0.0.1", pyPort], { authkey: "nope" }), AuthenticationError);
  await gotLine();
  assert.equal(lines[1], "AuthenticationError");
  await new Promise((resolve) => pyListener.on("exit", resolve));
});

test("a poll that times out on an idle socket takes its wait back; data then wakes the next poll", async () => {
  const socket = new EventEmitter();
  const reader = new FrameReader(socket as unknown as Socket);
  for (let i = 0; i < 50; i++) assert.equal(await reader.readyBy(performance.now() + 1), false);
  assert.equal(reader.pendingWaits, 0);
  const ready = reader.readyBy(Infinity);
  assert.equal(reader.pendingWaits, 1);
  socket.emit("data", frame(new Uint8Array([7])));
  assert.equal(await ready, true);
  assert.deepEqual(await reader.read(), new Uint8Array([7]));
  const aborted = new AbortController();
  const waiting = reader.readyBy(Infinity, aborted.signal);
  aborted.abort();
  assert.equal(await waiting, false);
  assert.equal(reader.pendingWaits, 0);
});
