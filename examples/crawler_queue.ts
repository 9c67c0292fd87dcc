/**
 * Tutorial 1's crawler: one process finds links and puts them in a queue, another
 * takes them and "downloads" them. Checks that every link was downloaded once.
 */
import assert from "node:assert/strict";
import { Process, Queue } from "../mod.ts";

export async function findLinks(links: Queue<string | null>, pages: number): Promise<void> {
  for (let page = 0; page < pages; page++) {
    for (let i = 0; i < 3; i++) {
      const url = `https://example.test/page/${page}/item/${i}`;
      console.log(`found ${url}`);
      await links.put(url);
    }
  }
  await links.put(null);
}

export async function download(links: Queue<string | null>, saved: Queue<string>): Promise<void> {
  for await (const url of links) {
    if (url === null) break;
    console.log(`downloaded ${url}`);
    await saved.put(url);
  }
}

if (import.meta.main) {
  const links = new Queue<string | null>(4);
  const saved = new Queue<string>();
  const finder = new Process({ target: findLinks, args: [links, 5] });
  const downloader = new Process({ target: download, args: [links, saved] });
  finder.start();
  downloader.start();
  await finder.join();
  await downloader.join();
  const urls = new Set<string>();
  while (!saved.empty()) urls.add(saved.getNowait());
  assert.equal(urls.size, 15, "15 distinct links downloaded");
  console.log("crawl done");
}
