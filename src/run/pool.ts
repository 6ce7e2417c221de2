/**
 * A few worker threads running run/worker.js tasks, first come first served. A task whose
 * worker fails (or that throws there) is run again in this thread, so a broken worker costs
 * time, never results, and an error surfaces as it would without workers.
 */
import { Worker } from "worker_threads";
import { runTask, Task, TaskResult } from "./chunk";

interface Pending {
  id: number;
  task: Task;
  resolve: (r: TaskResult) => void;
  reject: (e: unknown) => void;
}

/** Tasks a worker is given before it reports back: one running, one waiting (no idle gap). */
const IN_FLIGHT = 2;

export class Pool {
  private readonly queue: Pending[] = [];
  private readonly busy = new Map<Worker, Map<number, Pending>>();
  private nextId = 0;
  private closed = false;

  private spawned = 0;

  constructor(
    private readonly script: string,
    size: number,
  ) {
    this.grow(size);
  }

  /** Worker threads started (some may have failed since). */
  get size(): number {
    return this.spawned;
  }

  /** Starts more worker threads, up to `size` started in all. */
  grow(size: number): void {
    while (!this.closed && this.spawned < size) {
      this.spawned++;
      this.spawn(this.script);
    }
    this.pump();
  }

  private spawn(script: string): void {
    const w = new Worker(script);
    this.busy.set(w, new Map());
    w.on("message", (msg: { id: number; result?: TaskResult; error?: string }) => {
      const mine = this.busy.get(w);
      const p = mine?.get(msg.id);
      if (!mine || !p) return;
      mine.delete(msg.id);
      if (msg.error === undefined) p.resolve(msg.result as TaskResult);
      else this.local(p); // throws here as it threw there (or succeeds after all)
      this.pump();
    });
    const lost = () => {
      const mine = this.busy.get(w);
      if (!mine) return;
      this.busy.delete(w);
      for (const p of mine.values()) this.local(p);
      this.pump();
    };
    w.on("error", lost);
    w.on("exit", lost);
  }

  /** Tasks run in this thread, one after another (so one chunk's analysis is alive at a time). */
  private localQueue: Promise<void> = Promise.resolve();

  private local(p: Pending): void {
    this.localQueue = this.localQueue.then(() => runTask(p.task).then(p.resolve, p.reject));
  }

  private pump(): void {
    for (;;) {
      if (!this.queue.length) return;
      if (!this.busy.size) {
        // no worker left: finish here
        for (const p of this.queue.splice(0)) this.local(p);
        return;
      }
      let best: [Worker, Map<number, Pending>] | undefined;
      for (const e of this.busy) if (!best || e[1].size < best[1].size) best = e;
      const [w, mine] = best as [Worker, Map<number, Pending>];
      if (mine.size >= IN_FLIGHT) return;
      const p = this.queue.shift() as Pending;
      try {
        w.postMessage({ id: p.id, task: p.task });
        mine.set(p.id, p);
      } catch {
        this.local(p); // not cloneable: no worker can take it
      }
    }
  }

  run(task: Task): Promise<TaskResult> {
    if (this.closed) return runTask(task);
    return new Promise((resolve, reject) => {
      this.queue.push({ id: this.nextId++, task, resolve, reject });
      this.pump();
    });
  }

  /** Ends the workers (after the caller has every result it waits for). */
  async close(): Promise<void> {
    this.closed = true;
    const ws = [...this.busy.keys()];
    this.busy.clear();
    await Promise.all(ws.map((w) => w.terminate()));
  }
}
