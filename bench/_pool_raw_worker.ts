// bench/pool.ts's raw side: a plain worker answering one [id, x] message with [id, x + 1].
import { isMainThread, parentPort } from "node:worker_threads";

if ("Bun" in globalThis) {
  const scope = globalThis as unknown as {
    onmessage: (event: MessageEvent<[number, number]>) => void;
    postMessage(message: unknown): void;
  };
  scope.onmessage = (event) => scope.postMessage([event.data[0], event.data[1] + 1]);
} else if (!isMainThread && parentPort) {
  const port = parentPort;
  port.on("message", (message: [number, number]) => port.postMessage([message[0], message[1] + 1]));
}
