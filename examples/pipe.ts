/**
 * Tutorial 1: a one-way Pipe from a producer to a consumer that stops on
 * EOFError once the producer is gone. Checks that every product arrived in order.
 */
import assert from "node:assert/strict";
import { type Connection, EOFError, Pipe, Process, Queue } from "../mod.ts";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export async function producer(pipe: Connection, products: number[]): Promise<void> {
  for (const product of products) {
    console.log(`producer sends: ${product}`);
    await pipe.send(product);
    await sleep(2);
  }
}

export async function consumer(pipe: Connection, got: Queue<number>): Promise<void> {
  for (;;) {
    try {
      const item = await pipe.recv<number>();
      console.log(`consumer receives: ${item}`);
      await got.put(item);
    } catch (error) {
      if (!(error instanceof EOFError)) throw error;
      console.log("the producer has left");
      break;
    }
  }
}

if (import.meta.main) {
  const products = Array.from({ length: 10 }, () => 1 + Math.floor(Math.random() * 10));
  const [readEnd, writeEnd] = Pipe(false);
  const got = new Queue<number>();
  const processProducer = new Process({ target: producer, args: [writeEnd, products] });
  const processConsumer = new Process({ target: consumer, args: [readEnd, got] });
  processProducer.start();
  processConsumer.start();
  readEnd.close(); // neither end is used here: close them, as the tutorial says
  writeEnd.close();
  await processProducer.join();
  await processConsumer.join();
  const received: number[] = [];
  while (!got.empty()) received.push(got.getNowait());
  assert.deepEqual(received, products, "every product, in order, then end of file");
}
