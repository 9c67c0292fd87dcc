/**
 * Tutorial 1: a TCP server that serves each client in its own process, which
 * sends back what it receives in upper case; and a client that checks the echoes.
 *
 * A socket cannot move to another thread, so the server keeps the socket and
 * hands its bytes to the client's process through a Pipe; the talking (the
 * `talk` loop of the tutorial) happens in that process.
 */
import assert from "node:assert/strict";
import { connect, createServer, type Socket } from "node:net";
import { type Connection, EOFError, Pipe, Process } from "../mod.ts";

/** The tutorial's `talk`: serve one client until it goes away. */
export async function talk(conn: Connection, clientAddress: string): Promise<void> {
  console.log(`serving ${clientAddress} in its own process`);
  for (;;) {
    let message: Uint8Array;
    try {
      message = await conn.recvBytes(1024);
    } catch (error) {
      if (error instanceof EOFError) break;
      throw error;
    }
    await conn.sendBytes(new TextEncoder().encode(new TextDecoder().decode(message).toUpperCase()));
  }
}

function serve(socket: Socket): Process {
  const [here, there] = Pipe();
  const p = new Process({ target: talk, args: [there, `${socket.remoteAddress}:${socket.remotePort}`] });
  p.start();
  there.close();
  socket.on("data", (chunk: Uint8Array) => void here.sendBytes(chunk));
  socket.on("close", () => here.close());
  (async () => {
    for (;;) {
      try {
        socket.write(await here.recvBytes());
      } catch {
        return;
      }
    }
  })();
  return p;
}

/** The tutorial's client: send lines, read the echoes. */
async function client(port: number, lines: string[]): Promise<string[]> {
  const socket = connect({ host: "127.0.0.1", port });
  await new Promise((resolve) => socket.once("connect", resolve));
  const echoes: string[] = [];
  for (const line of lines) {
    socket.write(line);
    echoes.push(String(await new Promise<Uint8Array>((resolve) => socket.once("data", resolve))));
  }
  socket.end();
  return echoes;
}

if (import.meta.main) {
  const talkers: Process[] = [];
  const server = createServer((socket) => talkers.push(serve(socket)));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  const conversations = [["hello", "world"], ["multi", "process", "echo"], ["tsmp"]];
  const results = await Promise.all(conversations.map((lines) => client(port, lines)));
  for (const p of talkers) await p.join();
  server.close();
  assert.deepEqual(results, conversations.map((lines) => lines.map((line) => line.toUpperCase())));
  assert.equal(talkers.length, 3, "one process per client");
  assert.ok(talkers.every((p) => p.exitcode === 0));
  console.log("every client got its echoes from its own process");
}
