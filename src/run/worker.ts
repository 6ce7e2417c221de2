/**
 * Worker thread of a bulk run (see run.ts): runs the tasks the main thread posts, in order,
 * one at a time, and posts each result back with the task's id.
 */
import { parentPort } from "worker_threads";
import { runTask, Task } from "./chunk";

const port = parentPort;
let queue: Promise<void> = Promise.resolve();
if (port)
  port.on("message", (msg: { id: number; task: Task }) => {
    queue = queue.then(() =>
      runTask(msg.task).then(
        (result) => port.postMessage({ id: msg.id, result }),
        (e: unknown) =>
          port.postMessage({ id: msg.id, error: e instanceof Error ? e.message : String(e) }),
      ),
    );
  });
