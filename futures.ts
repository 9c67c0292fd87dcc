/**
 * Python's `concurrent.futures` for processes: a {@linkcode ProcessPoolExecutor} whose `submit` returns a
 * {@linkcode Future}, `map` over inputs in order, and {@linkcode asCompleted} / {@linkcode wait} over futures.
 * It runs on the same engine as `Pool`.
 *
 * @example
 * ```ts
 * import { asCompleted, FIRST_COMPLETED, ProcessPoolExecutor, wait } from "@tsmp/multiprocessing/futures";
 *
 * export function square(x: number) {
 *   return x * x;
 * }
 *
 * if (import.meta.main) {
 *   await using executor = new ProcessPoolExecutor({ maxWorkers: 2 });
 *   const futures = [1, 2, 3].map((x) => executor.submit(square, x));
 *   for await (const future of asCompleted(futures)) console.log(await future.result());
 *   const { done } = await wait(futures, { returnWhen: FIRST_COMPLETED });
 *   console.log(done.size > 0); // true
 *   for await (const value of executor.map(square, [4, 5])) console.log(value); // 16, then 25
 * }
 * ```
 *
 * @module
 */
export { BrokenPoolError, CancelledError, TimeoutError } from "./lib/errors.ts";
export {
  type ExecutorMapOptions,
  type ExecutorOptions,
  ProcessPoolExecutor,
  type ShutdownOptions,
} from "./lib/pool/executor.ts";
export {
  ALL_COMPLETED,
  asCompleted,
  type AsCompletedOptions,
  type DoneFuture,
  FIRST_COMPLETED,
  FIRST_EXCEPTION,
  Future,
  type ReturnWhen,
  wait,
  type WaitOptions,
  type WaitResult,
} from "./lib/pool/future.ts";
