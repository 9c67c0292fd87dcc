// CPython's authkey handshake over any channel of whole messages: the legacy forms of Python 3.11 and older.
import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import { test } from "node:test";
import { answerChallenge, deliverChallenge, Pipe } from "../mod.ts";

test("a legacy handshake is told apart by length, even when its random bytes look like a {digest} prefix", async () => {
  const key = new TextEncoder().encode("abc");
  const md5 = (message: Uint8Array) => new Uint8Array(createHmac("md5", key).update(message).digest());
  // A Python 3.11 server's challenge: 20 random bytes, here ones that start like "{md5}".
  const [ours, server] = Pipe();
  const legacy = new TextEncoder().encode("{md5}abcdefghij}klmn");
  const answering = answerChallenge(ours, key);
  await server.sendBytes(new Uint8Array([...new TextEncoder().encode("#CHALLENGE#"), ...legacy]));
  assert.deepEqual(await server.recvBytes(), md5(legacy));
  await server.sendBytes(new TextEncoder().encode("#WELCOME#"));
  await answering;
  // A Python 3.11 client's answer to our challenge: the bare 16-byte HMAC-MD5 of the whole challenge.
  const [serving, client] = Pipe();
  const delivering = deliverChallenge(serving, key);
  const challenge = (await client.recvBytes()).subarray("#CHALLENGE#".length);
  await client.sendBytes(md5(challenge));
  assert.equal(new TextDecoder().decode(await client.recvBytes()), "#WELCOME#");
  await delivering;
  for (const end of [ours, server, serving, client]) end.close();
});
