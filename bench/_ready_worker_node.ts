// The runtime's floor for a node:worker_threads worker: an empty worker that says it is up.
import { parentPort } from "node:worker_threads";
parentPort!.postMessage(1);
