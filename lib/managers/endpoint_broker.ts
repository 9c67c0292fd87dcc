/**
 * The endpoint broker: which thread of this program serves which manager address, so a client in another of
 * its threads connects over shared memory (lib/managers/local.ts) instead of TCP. It runs as a host service
 * of the thread start method: every thread keeps what accepts connections to the addresses it serves; the
 * main thread keeps which thread serves each address (null: itself) and the connections it brokered, which it
 * closes when either thread ends, as the kernel closes a socket whose process ends.
 *
 * @module
 */
import { askHost, onHostMessage, provideHostService, tellThread, type ThreadKey } from "../process/start/thread.ts";
import { runtime } from "../runtime/detect.ts";
import { changeFrom, holdUntil } from "../wait/event_loop_hold.ts";
import { closeOffer, isSettledClosed, refuseOffer, type StreamOffer } from "./local.ts";

const SERVICE = "managers.endpoints";

/** What a thread asks the broker. */
type BrokerRequest =
  | { type: "serve"; key: string; ack: SharedArrayBuffer | null }
  | { type: "withdraw"; key: string }
  | { type: "connect"; keys: string[]; offer: StreamOffer };

/** What the broker hands the thread that serves `key`: a connection to accept. */
interface Accept {
  key: string;
  offer: StreamOffer;
}

const acceptors = new Map<string, (offer: StreamOffer) => void>();
const endpoints = new Map<string, ThreadKey | null>();
const brokered = new Map<ThreadKey, StreamOffer[]>();

function request(message: unknown, from: ThreadKey | null): void {
  const asked = message as BrokerRequest;
  switch (asked.type) {
    case "serve": {
      endpoints.set(asked.key, from);
      if (!asked.ack) return;
      const ack = new Int32Array(asked.ack);
      Atomics.store(ack, 0, 1);
      return void Atomics.notify(ack, 0);
    }
    case "withdraw":
      if (endpoints.get(asked.key) === from) endpoints.delete(asked.key);
      return;
    case "connect":
      return routeOffer(asked.keys, asked.offer, from);
  }
}

function routeOffer(keys: string[], offer: StreamOffer, from: ThreadKey | null): void {
  const key = keys.find((k) => endpoints.has(k));
  if (key === undefined) return refuseOffer(offer);
  const server = endpoints.get(key)!;
  // Kept until a thread ends (so its connections close then); ones already closed are let go.
  for (const thread of [from, server]) {
    if (thread) brokered.set(thread, [...(brokered.get(thread) ?? []).filter((o) => !isSettledClosed(o)), offer]);
  }
  if (server === null) acceptOffer({ key, offer });
  else tellThread(server, SERVICE, { key, offer } satisfies Accept);
}

function threadEnded(thread: ThreadKey): void {
  for (const [key, server] of endpoints) if (server === thread) endpoints.delete(key);
  for (const offer of brokered.get(thread) ?? []) closeOffer(offer);
  brokered.delete(thread);
}

/** Hands a connection offered to `key` to what accepts connections to it in this thread (or refuses it). */
function acceptOffer({ key, offer }: Accept): void {
  const accept = acceptors.get(key);
  if (accept) accept(offer);
  else refuseOffer(offer);
}

if (runtime.isMainThread) provideHostService(SERVICE, { request, threadEnded });
else onHostMessage(SERVICE, (message) => acceptOffer(message as Accept));

const ask = (message: BrokerRequest) => askHost(SERVICE, import.meta.url, message);

/**
 * Serves `key` (an address) to this program's other threads: connections offered to it reach `accept`.
 * Resolves, once the host knows, with the function that withdraws it; null where this thread cannot
 * reach the host (a pool worker), whose clients then use TCP.
 */
export async function registerEndpoint(
  key: string,
  accept: (offer: StreamOffer) => void,
): Promise<(() => void) | null> {
  const ack = runtime.isMainThread ? null : new Int32Array(new SharedArrayBuffer(4));
  if (!ask({ type: "serve", key, ack: ack ? ack.buffer as SharedArrayBuffer : null })) return null;
  acceptors.set(key, accept);
  const withdraw = () => {
    if (acceptors.get(key) !== accept) return;
    acceptors.delete(key);
    ask({ type: "withdraw", key });
  };
  if (ack) await holdUntil(changeFrom(ack, 0, 0));
  return withdraw;
}

/**
 * Offers a connection to whichever thread of this program serves one of `keys` (the first found); the host
 * settles the offer (accepted, or refused when nobody here serves it). False where this thread cannot reach
 * the host.
 */
export function connectEndpoint(keys: string[], offer: StreamOffer): boolean {
  return ask({ type: "connect", keys, offer });
}
