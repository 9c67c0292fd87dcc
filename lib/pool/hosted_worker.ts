/**
 * A pool worker that the main thread starts and hosts for a pool made in a child thread.
 *
 * @module
 */
import { exitCodeOf, newExitStatus, waitDone } from "../process/exit_status.ts";
import { hostPoolThread, hostTerminate } from "../process/start/thread.ts";
import type { ThreadLimits, WorkerHandle } from "../runtime/types.ts";

/**
 * A pool worker of a pool made in a child. The main thread starts the thread and
 * hosts it as a child of this process, so it ends when this process ends (Deno
 * does not end nested workers with their parent, and delivers their messages
 * late); the pool and the worker talk over a MessagePort of their own.
 */
export class HostedWorker implements WorkerHandle {
  #port: MessagePort;
  #control = newExitStatus();
  #pid: number;

  constructor(pid: number, parentPid: number, name: string, limits: ThreadLimits | undefined) {
    this.#pid = pid;
    const { port1, port2 } = new MessageChannel();
    this.#port = port1;
    hostPoolThread({
      type: "poolThread",
      pid,
      parentPid,
      name,
      control: this.#control.buffer as SharedArrayBuffer,
      port: port2,
      limits,
    });
  }
  postMessage(message: unknown): void {
    this.#port.postMessage(message);
  }
  onMessage(listener: (message: unknown) => void): void {
    this.#port.addEventListener("message", (event) => listener(event.data));
    this.#port.start();
  }
  onExit(listener: (code: number) => void): void {
    void waitDone(this.#control).then(() => {
      this.#port.close();
      listener(exitCodeOf(this.#control));
    });
  }
  // The host thread that starts it reports a failure to load.
  onError(): void {}
  terminate(): void {
    hostTerminate(this.#pid, -15);
  }
  unref(): void {}
}
