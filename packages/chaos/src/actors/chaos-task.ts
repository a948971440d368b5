/**
 * The task module of the chaos tree's TaskPool. `hash` is the load; `throw` and `exit` are faults
 * that must fail only their own task (ERR_TASK_FAILED; ERR_TASK_WORKER_DIED with the thread replaced).
 */
import { workHash } from './work-hash.js';

export type Task =
  | { readonly op: 'hash'; readonly n: number }
  | { readonly op: 'throw' }
  | { readonly op: 'exit' };

export default function run(task: Task): number {
  switch (task.op) {
    case 'hash':
      return workHash(task.n);
    case 'throw':
      throw new Error('chaos: task threw');
    case 'exit':
      process.exit(9);
  }
  return -1;
}
