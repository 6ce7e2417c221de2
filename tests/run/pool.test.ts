/**
 * How many worker threads a bulk run uses, and the pool growing as the walk finds inputs.
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { chunking, INPUTS_PER_WORKER, WORKER_MIN_INPUTS } from "../../src/run";
import { Pool } from "../../src/run/pool";

describe("chunking: worker threads by default", () => {
  const saved = process.env.BUILDRACE_WORKERS;
  beforeEach(() => delete process.env.BUILDRACE_WORKERS);
  afterAll(() => {
    if (saved === undefined) delete process.env.BUILDRACE_WORKERS;
    else process.env.BUILDRACE_WORKERS = saved;
  });

  test("small runs go in one pass, larger ones in chunks on this thread", () => {
    expect(chunking(undefined, WORKER_MIN_INPUTS - 1, 8)).toBeUndefined();
    expect(chunking(undefined, WORKER_MIN_INPUTS, 8)).toEqual({ workers: 0 });
    // one worker would only be waited for: chunks run here until two can be busy
    expect(chunking(undefined, 2 * INPUTS_PER_WORKER - 1, 8)).toEqual({ workers: 0 });
  });

  test("one thread per INPUTS_PER_WORKER inputs, at most one per core and 8", () => {
    expect(chunking(undefined, 2 * INPUTS_PER_WORKER, 8)).toEqual({ workers: 2 });
    expect(chunking(undefined, 5 * INPUTS_PER_WORKER + 1, 8)).toEqual({ workers: 5 });
    expect(chunking(undefined, 100 * INPUTS_PER_WORKER, 4)).toEqual({ workers: 4 });
    expect(chunking(undefined, 100 * INPUTS_PER_WORKER, 32)).toEqual({ workers: 8 });
    expect(chunking(undefined, 100 * INPUTS_PER_WORKER, 1)).toEqual({ workers: 0 });
  });

  test("a number asked for wins, from the option or BUILDRACE_WORKERS", () => {
    expect(chunking(3, 10, 1)).toEqual({ workers: 3 });
    expect(chunking(0, 100 * INPUTS_PER_WORKER, 8)).toEqual({ workers: 0 });
    expect(chunking(0, 10, 8)).toBeUndefined();
    process.env.BUILDRACE_WORKERS = "2";
    expect(chunking(undefined, 10, 1)).toEqual({ workers: 2 });
    process.env.BUILDRACE_WORKERS = "0";
    expect(chunking(undefined, 100 * INPUTS_PER_WORKER, 8)).toEqual({ workers: 0 });
  });
});

describe("Pool.grow", () => {
  let dir: string;
  let script: string;
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "buildrace-pool-"));
    script = path.join(dir, "worker.js");
    // answers each task with the id of the thread that ran it, a little later
    fs.writeFileSync(
      script,
      `const { parentPort, threadId } = require("worker_threads");
       parentPort.on("message", (m) => setTimeout(() => parentPort.postMessage({ id: m.id, result: threadId }), 20));`,
    );
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  const threadsOf = async (pool: Pool, tasks: number) =>
    new Set(
      await Promise.all(
        Array.from({ length: tasks }, () =>
          pool.run({ kind: "load", files: [], options: { buildArgs: {} } }),
        ),
      ),
    );

  test("starts more threads on a live pool, which take tasks", async () => {
    const pool = new Pool(script, 1);
    try {
      expect(pool.size).toBe(1);
      expect((await threadsOf(pool, 6)).size).toBe(1);
      pool.grow(3);
      pool.grow(2); // never shrinks
      expect(pool.size).toBe(3);
      expect((await threadsOf(pool, 6)).size).toBe(3);
    } finally {
      await pool.close();
    }
    pool.grow(5); // closed: nothing starts
    expect(pool.size).toBe(3);
  });
});
