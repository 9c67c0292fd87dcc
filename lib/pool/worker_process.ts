/**
 * What a pool's worker process runs: the target its spawned child (process/start/spawn.ts) starts with. It opens
 * its task cells file, connects to the listener of the program that started it, proves with the key its run
 * message carried that it is the worker that pool started, and then serves tasks over the socket (worker.ts) as a
 * worker thread serves its port. It ends when the pool stops it, or when the pool's end of the socket closes.
 *
 * @module
 */
import { connect, type Socket } from "node:net";
import { encodeTransient } from "../codec.ts";
import { answerChallenge } from "../connection/handshake.ts";
import { runtime } from "../runtime/detect.ts";
import { checkPlain, decodeToWorker, encodeFromWorker, FrameSocket, TaskCellsFile } from "./process_link.ts";
import { serve } from "./worker.ts";

/**
 * Serves the pool listening on `port` as its worker `id`, with the task cells file at `cellsPath`; settles once
 * the pool's end of the socket closes.
 */
export async function servePool(port: number, id: number, key: Uint8Array, cellsPath: string): Promise<void> {
  const cells = TaskCellsFile.open(await import("node:fs"), cellsPath);
  const socket = await new Promise<Socket>((resolve, reject) => {
    const socket = connect({ host: "127.0.0.1", port }, () => resolve(socket));
    socket.once("error", reject);
  });
  const link = new FrameSocket(socket);
  link.sendBytes(encodeTransient(id));
  await answerChallenge(link, key);
  const closed = new Promise<void>((resolve) => link.onClose(resolve));
  serve({
    send(message) {
      // A pool that has closed its end has nothing more to hear.
      if (!link.closed) link.sendBytes(encodeFromWorker(message));
    },
    exit: (code) => runtime.exitProcess(code),
    begin: (n) => cells.begin(n),
    check: (value) => checkPlain(value, "the task's result"),
  }, (receive) => link.handle((frame) => receive(decodeToWorker(frame))));
  await closed;
}
