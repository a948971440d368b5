/** The demo pool's task: a little CPU work (sums square roots), so the pool's counters move. */
export default function task(n: number): number {
  let s = 0;
  for (let i = 0; i < n; i++) s += Math.sqrt(i);
  return s;
}
