/**
 * CPython's `#CHALLENGE#` authkey handshake (`deliver_challenge`/`answer_challenge`): HMAC with a `{digest}`
 * prefix (sha256 by default) and the legacy bare HMAC-MD5, over any channel of whole messages.
 *
 * @module
 */
import { AuthenticationError } from "../errors.ts";

// `node:crypto` loads when a handshake first runs: most programs never authenticate a socket.
let cryptoModule: Promise<typeof import("node:crypto")> | undefined;

const CHALLENGE = new TextEncoder().encode("#CHALLENGE#");
/**
 * Starts the random part of this module's challenges. The HMAC covers whatever the challenge holds, so a
 * CPython peer answers it as any other; the side answering learns that the peer is this module.
 */
const OURS = new TextEncoder().encode("tsmp:");
const WELCOME = new TextEncoder().encode("#WELCOME#");
const FAILURE = new TextEncoder().encode("#FAILURE#");

function startsWith(bytes: Uint8Array, prefix: Uint8Array): boolean {
  return bytes.length >= prefix.length && prefix.every((b, i) => bytes[i] === b);
}

/** Compares in time that does not depend on where the bytes differ (as `hmac.compare_digest`). */
function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let difference = 0;
  for (let i = 0; i < a.length; i++) difference |= a[i]! ^ b[i]!; // same length, checked above
  return difference === 0;
}

const DIGESTS = ["md5", "sha256", "sha384", "sha512", "sha3_256", "sha3_384", "sha3_512"];

/**
 * Splits `{digest}payload` as CPython's `_get_digest_name_and_payload`: a message of 16 or 20 bytes is the
 * legacy form (a bare HMAC-MD5 answer, or a challenge of 20 random bytes), told apart by its length alone,
 * since its random bytes may start with `{` too.
 */
function digestAndPayload(message: Uint8Array): [string | null, Uint8Array] {
  if (message.length === 16 || message.length === 20) return [null, message];
  if (message[0] === 0x7b) {
    const end = message.indexOf(0x7d);
    if (end > 0 && end < 21) {
      return [new TextDecoder().decode(message.subarray(1, end)), message.subarray(end + 1)];
    }
  }
  return [null, message];
}

async function hmac(key: Uint8Array, message: Uint8Array, digest: string): Promise<Uint8Array> {
  if (!DIGESTS.includes(digest)) {
    throw new AuthenticationError(`unsupported digest ${digest}`);
  }
  // Web Crypto's HMAC knows neither md5 nor sha3, which CPython's handshake may ask for.
  const { createHmac } = await (cryptoModule ??= import("node:crypto"));
  return new Uint8Array(createHmac(digest.replace("_", "-"), key).update(message).digest());
}

/** An authkey as bytes. */
export function toKey(authkey: Uint8Array | string): Uint8Array {
  return typeof authkey === "string" ? new TextEncoder().encode(authkey) : authkey;
}

/** The answer to a challenge: `{sha256}` + HMAC, or the raw HMAC-MD5 for a legacy 20-byte challenge. */
async function respond(authkey: Uint8Array, message: Uint8Array): Promise<Uint8Array> {
  const [digest] = digestAndPayload(message);
  if (!digest) {
    if (message.length !== 20) throw new AuthenticationError(`challenge of unexpected length ${message.length}`);
    return await hmac(authkey, message, "md5");
  }
  const mac = await hmac(authkey, message, digest);
  const prefix = new TextEncoder().encode(`{${digest}}`);
  const out = new Uint8Array(prefix.length + mac.length);
  out.set(prefix);
  out.set(mac, prefix.length);
  return out;
}

/**
 * What the handshake needs of a connection: whole messages out and in. A {@linkcode Connection} is one;
 * so is any framed socket that sends and receives CPython's frames.
 */
export interface HandshakeChannel {
  /** Sends one whole message. */
  sendBytes(bytes: Uint8Array): Promise<void> | void;
  /** Receives one whole message of at most `maxlength` bytes. */
  recvBytes(maxlength?: number): Promise<Uint8Array>;
}

/**
 * Sends a challenge and checks the answer, as CPython's `deliver_challenge`
 * (sha256 form; a 16-byte answer is checked as the legacy HMAC-MD5).
 * Throws `AuthenticationError` (after telling the peer `#FAILURE#`) on a wrong answer.
 *
 * @example
 * ```ts
 * import { answerChallenge, deliverChallenge, Pipe } from "@tsmp/multiprocessing";
 * const [server, client] = Pipe();
 * // Each side proves it knows the key; a wrong key rejects both with AuthenticationError.
 * await Promise.all([deliverChallenge(server, "secret"), answerChallenge(client, "secret")]);
 * ```
 */
export async function deliverChallenge(connection: HandshakeChannel, authkey: Uint8Array | string): Promise<void> {
  const key = toKey(authkey);
  const prefix = new TextEncoder().encode("{sha256}");
  const message = new Uint8Array(prefix.length + 40);
  message.set(prefix);
  message.set(crypto.getRandomValues(new Uint8Array(40)), prefix.length);
  message.set(OURS, prefix.length);
  const challenge = new Uint8Array(CHALLENGE.length + message.length);
  challenge.set(CHALLENGE);
  challenge.set(message, CHALLENGE.length);
  await connection.sendBytes(challenge);
  const response = await connection.recvBytes(256);
  const [digest, mac] = digestAndPayload(response);
  let expected: Uint8Array;
  try {
    expected = await hmac(key, message, digest ?? "md5");
  } catch {
    expected = new Uint8Array(0);
  }
  if (!equalBytes(expected, mac)) {
    await connection.sendBytes(FAILURE);
    throw new AuthenticationError("digest received was wrong");
  }
  await connection.sendBytes(WELCOME);
}

/**
 * Answers a challenge, as CPython's `answer_challenge`. Throws `AuthenticationError` if the answer is rejected.
 *
 * @example
 * ```ts
 * import { answerChallenge, deliverChallenge, Pipe } from "@tsmp/multiprocessing";
 * const [server, client] = Pipe();
 * await Promise.all([deliverChallenge(server, "secret"), answerChallenge(client, "secret")]);
 * ```
 */
export async function answerChallenge(connection: HandshakeChannel, authkey: Uint8Array | string): Promise<void> {
  await answerTelling(connection, authkey);
}

/** `answerChallenge`, resolving with whether the challenge was this module's (false: CPython's, or another's). */
export async function answerTelling(connection: HandshakeChannel, authkey: Uint8Array | string): Promise<boolean> {
  const key = toKey(authkey);
  const message = await connection.recvBytes(256);
  if (!startsWith(message, CHALLENGE)) throw new AuthenticationError(`protocol error: expected #CHALLENGE#`);
  const body = message.subarray(CHALLENGE.length);
  await connection.sendBytes(await respond(key, body));
  const response = await connection.recvBytes(256);
  if (!equalBytes(response, WELCOME)) throw new AuthenticationError("digest sent was rejected");
  const [digest, payload] = digestAndPayload(body);
  return digest !== null && startsWith(payload, OURS);
}
