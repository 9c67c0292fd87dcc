/**
 * A child's stream wired to a file on this side (a descriptor, an open file or a `file:` URL): the runtimes
 * give a child only pipes, so the bytes are copied between the pipe and the file here.
 *
 * @module
 */
import { isOpenFile } from "./options.ts";

/** A descriptor, an open file or a path: where a stream is copied to or from on this side. */
export type FileTarget = { fd: number } | { path: string };

export function fileTarget(value: unknown): FileTarget | null {
  if (typeof value === "number" && value >= 0) return { fd: value };
  if (isOpenFile(value)) return { fd: value.fd };
  if (value instanceof URL) return { path: decodeURIComponent(value.pathname) };
  return null;
}

// `node:fs` loads only for a child wired to a file: with the module it cost Deno programs ~10 ms of their start.
let fsModule: Promise<typeof import("node:fs")> | undefined;
const nodeFs = () => fsModule ??= import("node:fs");

/** Copies a child's output stream to a file. */
export async function toFile(stream: ReadableStream<Uint8Array>, target: FileTarget): Promise<void> {
  const { closeSync, openSync, writeSync } = await nodeFs();
  const fd = "fd" in target ? target.fd : openSync(target.path, "w");
  try {
    for await (const chunk of stream) {
      for (let at = 0; at < chunk.length;) at += writeSync(fd, chunk, at);
    }
  } finally {
    if (!("fd" in target)) closeSync(fd);
  }
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
