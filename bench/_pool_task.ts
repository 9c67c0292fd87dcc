// The task of bench/pool.ts for piscina and tinypool: x + 1.
export default function inc(x: number): number {
  return x + 1;
}
