// The runtime's floor for a Web Worker: an empty worker that says it is up, loading nothing.
(globalThis as unknown as { postMessage(message: unknown): void }).postMessage(1);
