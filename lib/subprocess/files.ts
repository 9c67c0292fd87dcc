/**
 * A child's stream wired to a file on this side (a descriptor, an open file or a `file:` URL): the runtimes
 * give a child only pipes, so the bytes are copied between the pipe and the file here.
 *
 * @module
 */
import { SubprocessError } from "../errors.ts";
import { runtime } from "../runtime/detect.ts";
import { isOpenFile } from "./options.ts";

/** A descriptor, an open file or a path: where a stream is copied to or from on this side. */
export type FileTarget = { fd: number } | { path: string };

/** Where `value` (a `stdin`, `stdout` or `stderr` option) copies to or from, or null when it is no file. */
export function fileTarget(value: unknown): FileTarget | null {
  if (typeof value === "number" && value >= 0) return { fd: value };
  if (isOpenFile(value)) return { fd: value.fd };
  if (value instanceof URL) return { path: decodeURIComponent(value.pathname) };
  return null;
}

/**
 * Throws when `target` is a descriptor this process does not have open (EBADF), which would otherwise lose the
 * child's output without a word. The system's `/dev/fd` shows the open ones without loading `node:fs`.
 */
export function checkOpen(target: FileTarget | null, what: string): void {
  if (!target || !("fd" in target) || runtime.pathInfo(`/dev/fd/${target.fd}`)) return;
  throw new SubprocessError(
    `${what}: descriptor ${target.fd} is not open (EBADF): pass a descriptor this program holds open (from `
      + `fs.openSync or a FileHandle's fd), or a file: URL to have the file opened for the child`,
  );
}

// `node:fs` loads only for a child wired to a file: with the module it cost Deno programs ~10 ms of their start.
let fsModule: Promise<typeof import("node:fs")> | undefined;
const nodeFs = () => fsModule ??= import("node:fs");

/** A copy of a child's output pipe to a file. */
export interface FileCopy {
  /** Settles when the pipe ends or the copy is stopped; rejects when the file cannot be written. */
  readonly done: Promise<void>;
  /** Stops reading the pipe (a grandchild may hold it open long after the child ended). */
  stop(): void;
}

/** Copies a child's output stream (`what`: `"stdout"` or `"stderr"`) to a file. */
export function toFile(stream: ReadableStream<Uint8Array>, target: FileTarget, what: string): FileCopy {
  const reader = stream.getReader();
  const stop = () => void reader.cancel().catch(() => {});
  const copy = async () => {
    const { closeSync, openSync, writeSync } = await nodeFs();
    const fd = "fd" in target ? target.fd : openSync(target.path, "w");
    try {
      for (;;) {
        let result: ReadableStreamReadResult<Uint8Array>;
        try {
          result = await reader.read();
        } catch {
          // A pipe that breaks (the child was killed) has given what it had.
          return;
        }
        if (result.done) return;
        const chunk = result.value;
        try {
          for (let at = 0; at < chunk.length;) at += writeSync(fd, chunk, at);
        } catch (error) {
          // The child's further writes fail as they would on the file itself (EPIPE for it).
          stop();
          const where = "fd" in target ? `descriptor ${target.fd}` : target.path;
          throw new SubprocessError(`could not write the child's ${what} to ${where}: ${(error as Error).message}`, {
            cause: error,
          });
        }
      }
    } finally {
      if (!("fd" in target)) closeSync(fd);
    }
  };
  const done = copy();
  // Seen once the child has ended (in wait(), run()), which may come after the failure.
  done.catch(() => {});
  return { done, stop };
}

/** Copies a file to a child's input stream, then closes it. */
export async function fromFile(target: FileTarget, stream: WritableStream<Uint8Array>): Promise<void> {
  const writer = stream.getWriter();
  let opened: number | undefined;
  const fs = await nodeFs();
  try {
    const fd = "fd" in target ? target.fd : (opened = fs.openSync(target.path, "r"));
    for (;;) {
      const buffer = new Uint8Array(65536);
      const n = await new Promise<number>((resolve, reject) =>
        fs.read(fd, buffer, 0, buffer.length, null, (error, bytes) => error ? reject(error) : resolve(bytes))
      );
      if (n === 0) break;
      await writer.write(buffer.subarray(0, n));
    }
    await writer.close();
  } catch {
    await writer.abort().catch(() => {});
  } finally {
    if (opened !== undefined) fs.closeSync(opened);
  }
}
